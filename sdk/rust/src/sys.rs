//! Byte-level access to the host imports of module `"bext"` (ABI v1).
//!
//! On `wasm32` these are the real imports. On any other target (for `cargo test` of plugin
//! logic) they are served by the in-memory host in `crate::testing`, so the same plugin code
//! runs natively without a bext server.

/// Read result: the bytes the host returned, or its negative ABI code (-1 = not found).
pub type Read = Result<Vec<u8>, i64>;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Read;

    #[link(wasm_import_module = "bext")]
    extern "C" {
        #[link_name = "log"]
        fn bext_log(level_ptr: *const u8, level_len: usize, msg_ptr: *const u8, msg_len: usize);
        #[link_name = "storage_get"]
        fn bext_storage_get(key_ptr: *const u8, key_len: usize) -> i64;
        #[link_name = "storage_set"]
        fn bext_storage_set(key_ptr: *const u8, key_len: usize, val_ptr: *const u8, val_len: usize) -> i32;
        #[link_name = "storage_delete"]
        fn bext_storage_delete(key_ptr: *const u8, key_len: usize) -> i32;
        #[link_name = "http_fetch"]
        fn bext_http_fetch(req_ptr: *const u8, req_len: usize) -> i64;
        #[link_name = "get_config"]
        fn bext_get_config(key_ptr: *const u8, key_len: usize) -> i64;
        #[link_name = "emit_metric"]
        fn bext_emit_metric(name_ptr: *const u8, name_len: usize, value: f64, tags_ptr: *const u8, tags_len: usize);
        #[link_name = "kv_get"]
        fn bext_kv_get(ns_ptr: *const u8, ns_len: usize, key_ptr: *const u8, key_len: usize) -> i64;
        #[link_name = "kv_set"]
        fn bext_kv_set(
            ns_ptr: *const u8,
            ns_len: usize,
            key_ptr: *const u8,
            key_len: usize,
            val_ptr: *const u8,
            val_len: usize,
        ) -> i32;
        #[link_name = "kv_delete"]
        fn bext_kv_delete(ns_ptr: *const u8, ns_len: usize, key_ptr: *const u8, key_len: usize) -> i32;
        #[link_name = "queue_publish"]
        fn bext_queue_publish(name_ptr: *const u8, name_len: usize, msg_ptr: *const u8, msg_len: usize) -> i32;
        #[link_name = "queue_consume"]
        fn bext_queue_consume(name_ptr: *const u8, name_len: usize) -> i64;
    }

    /// Takes ownership of bytes the host wrote through `bext_alloc`, or passes its error code on.
    fn take(packed: i64) -> Read {
        if packed < 0 {
            return Err(packed);
        }
        let ptr = (packed as u64 >> 32) as usize as *mut u8;
        let len = (packed as u64 & 0xffff_ffff) as usize;
        if len == 0 {
            // Nothing to own: a zero-size allocation is a dangling pointer (or the host skipped it).
            return Ok(Vec::new());
        }
        // SAFETY: the host allocated exactly `len` bytes with `bext_alloc(len)` (alignment 1),
        // which is the layout a Vec<u8> of capacity `len` owns.
        Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
    }

    pub fn log(level: &[u8], msg: &[u8]) {
        unsafe { bext_log(level.as_ptr(), level.len(), msg.as_ptr(), msg.len()) }
    }
    pub fn storage_get(key: &[u8]) -> Read {
        take(unsafe { bext_storage_get(key.as_ptr(), key.len()) })
    }
    pub fn storage_set(key: &[u8], value: &[u8]) -> i32 {
        unsafe { bext_storage_set(key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
    }
    pub fn storage_delete(key: &[u8]) -> i32 {
        unsafe { bext_storage_delete(key.as_ptr(), key.len()) }
    }
    pub fn http_fetch(request_json: &[u8]) -> Read {
        take(unsafe { bext_http_fetch(request_json.as_ptr(), request_json.len()) })
    }
    pub fn get_config(key: &[u8]) -> Read {
        take(unsafe { bext_get_config(key.as_ptr(), key.len()) })
    }
    pub fn emit_metric(name: &[u8], value: f64, tags_json: &[u8]) {
        unsafe { bext_emit_metric(name.as_ptr(), name.len(), value, tags_json.as_ptr(), tags_json.len()) }
    }
    pub fn kv_get(ns: &[u8], key: &[u8]) -> Read {
        take(unsafe { bext_kv_get(ns.as_ptr(), ns.len(), key.as_ptr(), key.len()) })
    }
    pub fn kv_set(ns: &[u8], key: &[u8], value: &[u8]) -> i32 {
        unsafe { bext_kv_set(ns.as_ptr(), ns.len(), key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
    }
    pub fn kv_delete(ns: &[u8], key: &[u8]) -> i32 {
        unsafe { bext_kv_delete(ns.as_ptr(), ns.len(), key.as_ptr(), key.len()) }
    }
    pub fn queue_publish(name: &[u8], msg: &[u8]) -> i32 {
        unsafe { bext_queue_publish(name.as_ptr(), name.len(), msg.as_ptr(), msg.len()) }
    }
    pub fn queue_consume(name: &[u8]) -> Read {
        take(unsafe { bext_queue_consume(name.as_ptr(), name.len()) })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::host::*;
}

pub use imp::*;
