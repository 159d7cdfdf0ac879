// Decides who defines the module's `_initialize` export.
//
// Up to Rust 1.99, cdylibs for WASI link no start-up object: the SDK's export_plugin! defines
// `_initialize` itself, calling `__wasm_call_ctors` (which also stops the linker from wrapping
// every export in constructor/destructor calls). From Rust 1.100, rustc links wasi-libc's
// crt1-reactor.o into cdylibs, which already defines `_initialize`; a second one would not link.
// BEXT_CRT_REACTOR=1 or 0 overrides the detection (e.g. for nightlies around the change).
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BEXT_CRT_REACTOR");
    let minor = rustc_minor();
    // Declares the cfg to rustc's unexpected_cfgs lint (cargo understands this from 1.80).
    if minor.map_or(false, |m| m >= 80) {
        println!("cargo:rustc-check-cfg=cfg(bext_crt_reactor)");
    }
    let crt_reactor = match env::var("BEXT_CRT_REACTOR").ok().as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => minor.map_or(false, |m| m >= 100),
    };
    if crt_reactor {
        println!("cargo:rustc-cfg=bext_crt_reactor");
    }
}

/// Minor version of the compiler cargo uses ("rustc 1.63.0 (...)" → 63).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.split_whitespace().nth(1)?;
    version.split('.').nth(1)?.parse().ok()
}
