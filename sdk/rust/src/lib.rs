//! Write bext plugins in Rust.
//!
//! ```ignore
//! use bext_plugin_api::{bext, lifecycle::LifecyclePlugin};
//!
//! pub struct HelloPlugin;
//!
//! impl LifecyclePlugin for HelloPlugin {
//!     fn name(&self) -> &str { "hello" }
//!     fn on_request_complete(&self, event_json: &str) -> Result<(), String> {
//!         bext::log("info", &format!("request done: {}", event_json));
//!         Ok(())
//!     }
//! }
//!
//! bext_plugin_api::export_plugin!(HelloPlugin);
//! ```
//!
//! Build with `crate-type = ["cdylib"]` and `cargo build --target wasm32-wasi --release`.
//! [`export_plugin!`] writes every export bext looks for (ABI v1): the hooks, `bext_alloc` /
//! `bext_dealloc`, `bext_name`, `bext_priority` and `_initialize`.

pub mod bext;
pub mod lifecycle;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use crate::bext::{Error, HttpRequest, HttpResponse};
pub use crate::lifecycle::LifecyclePlugin;
/// Re-exported so plugins can parse events without declaring their own dependency.
pub use serde_json;

/// Support code for the items [`export_plugin!`] generates. Not a stable API.
#[doc(hidden)]
pub mod __rt {
    use crate::lifecycle::LifecyclePlugin;
    use std::alloc::{alloc, dealloc, Layout};

    // wasm32 plugins are single-threaded: the host serializes calls into one instance.
    static mut INSTANCE: Option<&'static dyn LifecyclePlugin> = None;
    static mut INITIALIZED: bool = false;

    /// The plugin value, created on first use from the expression given to `export_plugin!`.
    pub fn instance(make: fn() -> Box<dyn LifecyclePlugin>) -> &'static dyn LifecyclePlugin {
        unsafe {
            if let Some(p) = INSTANCE {
                return p;
            }
            let p: &'static dyn LifecyclePlugin = Box::leak(make());
            INSTANCE = Some(p);
            p
        }
    }

    /// Runs once (from `_initialize`, or the first export call): panics are reported through bext's logger before the
    /// trap, so `bext` shows the panic message and location rather than only "unreachable".
    pub fn initialize() {
        unsafe {
            if INITIALIZED {
                return;
            }
            INITIALIZED = true;
        }
        std::panic::set_hook(Box::new(|info| {
            crate::bext::log("error", &format!("plugin {}", info));
        }));
    }

    /// `bext_alloc`: `size` bytes, alignment 1 (what a `Vec<u8>` of that capacity owns).
    pub fn alloc_bytes(size: i32) -> i32 {
        if size <= 0 {
            // A valid non-null pointer for an empty region; never dereferenced or freed.
            return 1;
        }
        match Layout::from_size_align(size as usize, 1) {
            Ok(layout) => unsafe { alloc(layout) as usize as i32 },
            Err(_) => 0,
        }
    }

    /// `bext_dealloc`: frees what `alloc_bytes(len)` returned (or an error message from a hook).
    ///
    /// # Safety
    /// `ptr` must come from `alloc_bytes(len)` with the same `len`, and be freed once.
    pub unsafe fn dealloc_bytes(ptr: i32, len: i32) {
        if ptr == 0 || len <= 0 {
            return;
        }
        dealloc(ptr as usize as *mut u8, Layout::from_size_align_unchecked(len as usize, 1));
    }

    /// Packs an owned string as `(ptr << 32) | len` for the host, which frees it with
    /// `bext_dealloc(ptr, len)` after reading it.
    pub fn pack(s: String) -> i64 {
        let bytes = s.into_bytes().into_boxed_slice();
        let len = bytes.len();
        let ptr = Box::into_raw(bytes) as *mut u8 as usize;
        ((ptr as u64) << 32 | len as u64) as i64
    }

    /// Hook result → ABI: 0 for Ok, a packed message for Err (never 0, even for Err("")).
    pub fn result(r: Result<(), String>) -> i64 {
        match r {
            Ok(()) => 0,
            Err(msg) if msg.is_empty() => pack("error (empty message)".to_string()),
            Err(msg) => pack(msg),
        }
    }

    /// Borrows a hook argument the host wrote into guest memory.
    ///
    /// # Safety
    /// `(ptr, len)` must be a readable region of linear memory (the host guarantees it).
    pub unsafe fn arg<'a>(ptr: i32, len: i32, what: &str) -> Result<&'a str, String> {
        if len <= 0 {
            return Ok("");
        }
        let bytes = std::slice::from_raw_parts(ptr as usize as *const u8, len as usize);
        std::str::from_utf8(bytes).map_err(|_| format!("{} is not valid UTF-8", what))
    }

    pub fn name(p: &dyn LifecyclePlugin) -> i64 {
        pack(p.name().to_string())
    }

    pub fn priority(p: &dyn LifecyclePlugin) -> i32 {
        p.priority().min(i32::MAX as u32) as i32
    }
}

/// Exports a [`LifecyclePlugin`] as a bext wasm plugin.
///
/// The argument is an expression that builds the plugin; it is evaluated once, on first use.
/// For a unit struct that is just its name:
///
/// ```ignore
/// bext_plugin_api::export_plugin!(AnalyticsPlugin);
/// bext_plugin_api::export_plugin!(Counter::new(10));
/// ```
///
/// By default all seven hooks are exported (the trait's defaults do nothing). To export only
/// some of them, so bext does not schedule calls to hooks you left empty, list them after `;`:
///
/// ```ignore
/// bext_plugin_api::export_plugin!(AnalyticsPlugin; on_server_start, on_request_complete, cleanup);
/// ```
///
/// Generated exports (wasm32 only): the hooks, `bext_alloc`, `bext_dealloc`, `bext_name`,
/// `bext_priority` and `_initialize` (runs static constructors, installs a panic logger).
#[macro_export]
macro_rules! export_plugin {
    ($plugin:expr) => {
        $crate::export_plugin!($plugin;
            on_server_start, on_request_complete, on_cache_write, on_cache_invalidate,
            on_reload, on_server_stop, cleanup);
    };
    ($plugin:expr; $($hook:ident),+ $(,)?) => {
        #[doc(hidden)]
        #[allow(dead_code)]
        fn __bext_plugin() -> &'static dyn $crate::lifecycle::LifecyclePlugin {
            $crate::__rt::initialize();
            $crate::__rt::instance(|| -> ::std::boxed::Box<dyn $crate::lifecycle::LifecyclePlugin> {
                ::std::boxed::Box::new($plugin)
            })
        }

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::__bext_export_initialize!();

            #[no_mangle]
            pub extern "C" fn bext_alloc(size: i32) -> i32 {
                $crate::__rt::alloc_bytes(size)
            }

            #[no_mangle]
            pub unsafe extern "C" fn bext_dealloc(ptr: i32, len: i32) {
                $crate::__rt::dealloc_bytes(ptr, len)
            }

            #[no_mangle]
            pub extern "C" fn bext_name() -> i64 {
                $crate::__rt::name(__bext_plugin())
            }

            #[no_mangle]
            pub extern "C" fn bext_priority() -> i32 {
                $crate::__rt::priority(__bext_plugin())
            }

            $( $crate::__bext_export_hook!($hook); )+
        };
    };
}

/// `_initialize` for toolchains that link no WASI start-up object into cdylibs (see build.rs).
#[cfg(not(bext_crt_reactor))]
#[doc(hidden)]
#[macro_export]
macro_rules! __bext_export_initialize {
    () => {
        extern "C" {
            fn __wasm_call_ctors();
        }

        // Calling __wasm_call_ctors explicitly makes the linker treat the module as a reactor:
        // exports are not wrapped in per-call constructor/destructor runs.
        #[no_mangle]
        pub extern "C" fn _initialize() {
            unsafe { __wasm_call_ctors() };
            $crate::__rt::initialize();
            let _ = __bext_plugin();
        }
    };
}

/// With crt1-reactor.o linked by rustc, its `_initialize` runs the constructors; the SDK's own
/// set-up happens on the first export call instead.
#[cfg(bext_crt_reactor)]
#[doc(hidden)]
#[macro_export]
macro_rules! __bext_export_initialize {
    () => {};
}

/// One hook export; used by [`export_plugin!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __bext_export_hook {
    (on_server_start) => {
        #[no_mangle]
        pub unsafe extern "C" fn on_server_start(ptr: i32, len: i32) -> i64 {
            $crate::__rt::result($crate::__rt::arg(ptr, len, "config JSON").and_then(|config| {
                $crate::lifecycle::LifecyclePlugin::on_server_start(__bext_plugin(), config)
            }))
        }
    };
    (on_request_complete) => {
        #[no_mangle]
        pub unsafe extern "C" fn on_request_complete(ptr: i32, len: i32) -> i64 {
            $crate::__rt::result($crate::__rt::arg(ptr, len, "event JSON").and_then(|event| {
                $crate::lifecycle::LifecyclePlugin::on_request_complete(__bext_plugin(), event)
            }))
        }
    };
    (on_cache_write) => {
        #[no_mangle]
        pub unsafe extern "C" fn on_cache_write(kp: i32, kl: i32, tp: i32, tl: i32) -> i64 {
            let args = $crate::__rt::arg(kp, kl, "cache key")
                .and_then(|key| $crate::__rt::arg(tp, tl, "tags JSON").map(|tags| (key, tags)));
            $crate::__rt::result(args.and_then(|(key, tags)| {
                $crate::lifecycle::LifecyclePlugin::on_cache_write(__bext_plugin(), key, tags)
            }))
        }
    };
    (on_cache_invalidate) => {
        #[no_mangle]
        pub unsafe extern "C" fn on_cache_invalidate(pp: i32, pl: i32, count: i32) -> i64 {
            $crate::__rt::result($crate::__rt::arg(pp, pl, "pattern").and_then(|pattern| {
                $crate::lifecycle::LifecyclePlugin::on_cache_invalidate(__bext_plugin(), pattern, count.max(0) as u32)
            }))
        }
    };
    (on_reload) => {
        #[no_mangle]
        pub extern "C" fn on_reload() -> i64 {
            $crate::__rt::result($crate::lifecycle::LifecyclePlugin::on_reload(__bext_plugin()))
        }
    };
    (on_server_stop) => {
        #[no_mangle]
        pub extern "C" fn on_server_stop() -> i64 {
            $crate::__rt::result($crate::lifecycle::LifecyclePlugin::on_server_stop(__bext_plugin()))
        }
    };
    (cleanup) => {
        #[no_mangle]
        pub extern "C" fn cleanup() -> i64 {
            $crate::__rt::result($crate::lifecycle::LifecyclePlugin::cleanup(__bext_plugin()))
        }
    };
    ($other:ident) => {
        compile_error!(concat!(
            "unknown bext hook `", stringify!($other), "`; expected one of: on_server_start, ",
            "on_request_complete, on_cache_write, on_cache_invalidate, on_reload, on_server_stop, cleanup"
        ));
    };
}
