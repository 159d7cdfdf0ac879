/**
 * The plugin projects `bext new plugin` writes, one per language: source files with the chosen
 * hooks (each logs that it ran), and the build recipe that goes into `[plugins.NAME.build]`.
 * SDK paths are resolved here, at creation time, so the project builds where it is.
 */
import path from 'node:path';
import type { HookName } from '../../config/types.js';
import { ascScript, clang, DEBIAN_CRATES, rustTools, SDK_DIR } from './toolchains.js';
import { existsSync } from 'node:fs';

export const LANGUAGES = ['rust', 'c', 'assemblyscript'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface ScaffoldFile {
  /** Relative to the plugin folder. */
  rel: string;
  text: string;
}

export interface Scaffold {
  files: ScaffoldFile[];
  /** The built module, relative to the plugin folder. */
  wasm: string;
  /** Runs in the plugin folder: an argv array, or a string for the shell. */
  command: string[] | string;
  /** Relative to the plugin folder. */
  watch: string[];
  /** What the user needs installed, for the "next steps" text. */
  needs: string;
}

export interface ScaffoldInput {
  name: string;
  hooks: readonly HookName[];
  /** Absolute folder the project is written to. */
  dir: string;
}

export function scaffold(lang: Language, input: ScaffoldInput): Scaffold {
  if (lang === 'rust') return rust(input);
  if (lang === 'c') return c(input);
  return assemblyscript(input);
}

/** A relative path in forward slashes, starting with ./ or ../ (what import and --use want). */
function relPosix(from: string, to: string): string {
  const rel = path.relative(from, to).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

// ---- Rust ----------------------------------------------------------------------------------

const RUST_HOOKS: Record<HookName, string> = {
  on_server_start: `    fn on_server_start(&self, config_json: &str) -> Result<(), String> {
        bext::info(&format!("{NAME} started with config {}", config_json));
        Ok(())
    }`,
  on_request_complete: `    fn on_request_complete(&self, event_json: &str) -> Result<(), String> {
        bext::info(&format!("{NAME}: request done: {}", event_json));
        Ok(())
    }`,
  on_cache_write: `    fn on_cache_write(&self, key: &str, tags_json: &str) -> Result<(), String> {
        bext::info(&format!("{NAME}: cached {} with tags {}", key, tags_json));
        Ok(())
    }`,
  on_cache_invalidate: `    fn on_cache_invalidate(&self, pattern: &str, count: u32) -> Result<(), String> {
        bext::info(&format!("{NAME}: {} cache entries matching {} removed", count, pattern));
        Ok(())
    }`,
  on_reload: `    fn on_reload(&self) -> Result<(), String> {
        bext::info("{NAME}: the config or the site changed");
        Ok(())
    }`,
  on_server_stop: `    fn on_server_stop(&self) -> Result<(), String> {
        bext::info("{NAME}: server stopping");
        Ok(())
    }`,
  cleanup: `    fn cleanup(&self) -> Result<(), String> {
        bext::info("{NAME}: cleanup");
        Ok(())
    }`,
};

function rust({ name, hooks }: ScaffoldInput): Scaffold {
  const tools = rustTools();
  const sdk = path.join(SDK_DIR, 'rust');
  const cargoConfig = [
    '# Written by `bext new plugin`. `cargo build --release` builds the plugin with these settings.',
    '[build]',
    `target = ${JSON.stringify(tools.target)}`,
    ...(tools.rustc ? [`rustc = ${JSON.stringify(tools.rustc)}   # the compiler that has the wasm standard library`] : []),
    ...(existsSync(DEBIAN_CRATES)
      ? [
          '',
          "# Offline builds against Debian's packaged crates (librust-serde-dev & co).",
          '# Delete these lines to build against crates.io instead.',
          '[source.crates-io]',
          'replace-with = "debian-packages"',
          '',
          '[source.debian-packages]',
          `directory = ${JSON.stringify(DEBIAN_CRATES)}`,
        ]
      : []),
    '',
  ].join('\n');
  const cargoToml = `[package]
name = ${JSON.stringify(name)}
version = "0.1.0"
edition = "2021"
publish = false

[lib]
# cargo writes target/${tools.target}/release/plugin.wasm; the build recipe copies it to plugin.wasm.
name = "plugin"
crate-type = ["cdylib"]

[dependencies]
# The Rust SDK that came with bext (docs/sdk-rust.md).
bext-plugin-api = { path = ${JSON.stringify(sdk)} }

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
# Keep the name section: bext shows guest function names in trap stacks.
strip = "debuginfo"

# A project of its own, even inside another Cargo workspace.
[workspace]
`;
  const lib = `//! ${name}: a bext plugin (created by \`bext new plugin\`).
//!
//! Build: \`bext build ${name}\`, or save a source file while \`bext dev\` runs.
//! SDK reference: docs/sdk-rust.md; hooks and their budgets: docs/abi.md.

use bext_plugin_api::{bext, lifecycle::LifecyclePlugin};

pub struct Plugin;

impl LifecyclePlugin for Plugin {
    fn name(&self) -> &str {
        ${JSON.stringify(name)}
    }

${hooks.map((h) => RUST_HOOKS[h].replaceAll('{NAME}', name)).join('\n\n')}
}

bext_plugin_api::export_plugin!(Plugin);
`;
  return {
    files: [
      { rel: 'Cargo.toml', text: cargoToml },
      { rel: '.cargo/config.toml', text: cargoConfig },
      { rel: 'src/lib.rs', text: lib },
      { rel: '.gitignore', text: '/target/\n/plugin.wasm\n' },
    ],
    wasm: 'plugin.wasm',
    // Through the shell for the copy, which also follows a CARGO_TARGET_DIR set in the environment.
    command: `${shellQuote(tools.cargo)} build --release && cp "\${CARGO_TARGET_DIR:-target}/${tools.target}/release/plugin.wasm" plugin.wasm`,
    watch: ['src/**/*.rs', 'Cargo.toml'],
    needs: `Rust with the ${tools.target} target (Debian: apt-get install rustc cargo libstd-rust-dev-wasm32 librust-serde-dev librust-serde-json-dev; or rustup target add ${tools.target})`,
  };
}

// ---- C -------------------------------------------------------------------------------------

const C_HOOKS: Record<HookName, string> = {
  on_server_start: `BEXT_EXPORT_HOOK(on_server_start)(const char *config, int32_t len) {
    bext_logf("info", "{NAME} started with config %.*s", (int)len, config);
    return BEXT_OK;
}`,
  on_request_complete: `BEXT_EXPORT_HOOK(on_request_complete)(const char *event, int32_t len) {
    bext_logf("info", "{NAME}: request done: %.*s", (int)len, event);
    return BEXT_OK;
}`,
  on_cache_write: `BEXT_EXPORT_HOOK(on_cache_write)(const char *key, int32_t key_len, const char *tags, int32_t tags_len) {
    bext_logf("info", "{NAME}: cached %.*s with tags %.*s", (int)key_len, key, (int)tags_len, tags);
    return BEXT_OK;
}`,
  on_cache_invalidate: `BEXT_EXPORT_HOOK(on_cache_invalidate)(const char *pattern, int32_t len, int32_t count) {
    bext_logf("info", "{NAME}: %d cache entries matching %.*s removed", (int)count, (int)len, pattern);
    return BEXT_OK;
}`,
  on_reload: `BEXT_EXPORT_HOOK(on_reload)(void) {
    bext_log("info", "{NAME}: the config or the site changed");
    return BEXT_OK;
}`,
  on_server_stop: `BEXT_EXPORT_HOOK(on_server_stop)(void) {
    bext_log("info", "{NAME}: server stopping");
    return BEXT_OK;
}`,
  cleanup: `BEXT_EXPORT_HOOK(cleanup)(void) {
    bext_log("info", "{NAME}: cleanup");
    return BEXT_OK;
}`,
};

function c({ name, hooks }: ScaffoldInput): Scaffold {
  const sdk = path.join(SDK_DIR, 'c');
  const command = [clang(), '--target=wasm32-wasi', '-O2', '-mexec-model=reactor', '-Wall', '-Wextra',
    '-Wl,--strip-debug', '-I', sdk, '-o', 'plugin.wasm', 'plugin.c'];
  const source = `/*
 * ${name}: a bext plugin in C (created by \`bext new plugin\`).
 *
 * Build: \`bext build ${name}\`, or save a source file while \`bext dev\` runs. By hand:
 *   ${command.join(' ')}
 * SDK reference: docs/sdk-c.md (bext.h is in ${sdk}); hooks and their budgets: docs/abi.md.
 */
#include "bext.h"

BEXT_PLUGIN_NAME(${JSON.stringify(name)})

${hooks.map((h) => C_HOOKS[h].replaceAll('{NAME}', name)).join('\n\n')}
`;
  return {
    files: [{ rel: 'plugin.c', text: source }],
    wasm: 'plugin.wasm',
    command,
    watch: ['*.c', '*.h'],
    needs: 'clang with wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)',
  };
}

// ---- AssemblyScript ------------------------------------------------------------------------

const AS_HOOKS: Record<HookName, string> = {
  on_server_start: `export function on_server_start(ptr: usize, len: i32): i64 {
  bext.info("{NAME} started with config " + bext.arg(ptr, len));
  return bext.ok(true);
}`,
  on_request_complete: `export function on_request_complete(ptr: usize, len: i32): i64 {
  bext.info("{NAME}: request done: " + bext.arg(ptr, len));
  return bext.ok(true);
}`,
  on_cache_write: `export function on_cache_write(keyPtr: usize, keyLen: i32, tagsPtr: usize, tagsLen: i32): i64 {
  bext.info("{NAME}: cached " + bext.arg(keyPtr, keyLen) + " with tags " + bext.arg(tagsPtr, tagsLen));
  return bext.ok(true);
}`,
  on_cache_invalidate: `export function on_cache_invalidate(ptr: usize, len: i32, count: i32): i64 {
  bext.info("{NAME}: " + count.toString() + " cache entries matching " + bext.arg(ptr, len) + " removed");
  return bext.ok(true);
}`,
  on_reload: `export function on_reload(): i64 {
  bext.info("{NAME}: the config or the site changed");
  return bext.ok(true);
}`,
  on_server_stop: `export function on_server_stop(): i64 {
  bext.info("{NAME}: server stopping");
  return bext.ok(true);
}`,
  cleanup: `export function cleanup(): i64 {
  bext.info("{NAME}: cleanup");
  return bext.ok(true);
}`,
};

function assemblyscript({ name, hooks, dir }: ScaffoldInput): Scaffold {
  const sdkIndex = path.join(SDK_DIR, 'assemblyscript', 'assembly', 'index');
  // asc resolves imports from the importing file and --use from the working folder, without the extension.
  const fromSource = relPosix(path.join(dir, 'assembly'), sdkIndex);
  const fromDir = relPosix(dir, sdkIndex);
  const asc = ascScript();
  const args = ['assembly/index.ts', '--runtime', 'stub', '--exportStart', '_initialize',
    '--use', `abort=${fromDir}/bext_abort`, '-O3', '-o', 'plugin.wasm'];
  // asc is mostly binaryen compiled to wasm: V8's optimising tier recompiling that wasm costs more
  // than a plugin's whole compile (bext's example: 6.1 s of CPU, 2.3 s under --liftoff-only, same
  // bytes out). --enable-source-maps spares asc.js restarting Node to add it.
  const command = asc ? ['node', '--liftoff-only', '--enable-source-maps', asc, ...args] : ['npx', 'asc', ...args];
  const source = `// ${name}: a bext plugin in AssemblyScript (created by \`bext new plugin\`).
//
// Build: \`bext build ${name}\`, or save a source file while \`bext dev\` runs.
// SDK reference: docs/sdk-assemblyscript.md; hooks and their budgets: docs/abi.md.
// Hooks return bext.ok(true): the heap is reset after each call, so keep no strings or
// objects in globals (numbers and booleans are fine), or pass false.
import { bext } from ${JSON.stringify(fromSource)};
export { bext_alloc, bext_dealloc } from ${JSON.stringify(fromSource)};

export function bext_name(): i64 {
  return bext.name(${JSON.stringify(name)});
}

${hooks.map((h) => AS_HOOKS[h].replaceAll('{NAME}', name)).join('\n\n')}
`;
  const files: ScaffoldFile[] = [{ rel: 'assembly/index.ts', text: source }];
  if (!asc) {
    files.push({
      rel: 'package.json',
      text: `${JSON.stringify({ name, private: true, devDependencies: { assemblyscript: '^0.28.20' } }, null, 2)}\n`,
    });
  }
  return {
    files,
    wasm: 'plugin.wasm',
    command,
    watch: ['assembly/**/*.ts'],
    needs: asc ? 'nothing more (AssemblyScript came with bext)' : 'AssemblyScript: run npm install in the plugin folder',
  };
}
