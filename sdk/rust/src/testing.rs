//! An in-memory stand-in for the bext host, used when the crate is compiled for a native target.
//!
//! It lets `cargo test` exercise plugin logic without a server: call your trait methods directly,
//! then look at what they logged, stored, published or fetched.
//!
//! ```ignore
//! use bext_plugin_api::{lifecycle::LifecyclePlugin, testing};
//! testing::reset();
//! testing::set_config(serde_json::json!({ "batch_size": 2 }));
//! testing::on_fetch(|req| r#"{"status":200,"headers":[],"body":"ok"}"#.to_string());
//! MyPlugin.on_request_complete(r#"{"path":"/"}"#).unwrap();
//! assert_eq!(testing::storage_keys(), vec!["buffer"]);
//! ```
//! State is per thread (the test harness runs each test on its own thread).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

/// One `emit_metric` call as the host received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    /// The tags JSON exactly as sent.
    pub tags_json: String,
}

type FetchHandler = Box<dyn FnMut(&str) -> String>;

#[derive(Default)]
struct Host {
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
    kv: BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>,
    queues: BTreeMap<Vec<u8>, VecDeque<Vec<u8>>>,
    config: Option<serde_json::Value>,
    logs: Vec<(String, String)>,
    metrics: Vec<Metric>,
    fetches: Vec<String>,
    fetch: Option<FetchHandler>,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets everything: storage, kv, queues, config, logs, metrics, fetch handler.
pub fn reset() {
    with(|h| *h = Host::default());
}

/// The plugin config that `bext::get_config` reads (the `[plugins.NAME.config]` table).
pub fn set_config(config: serde_json::Value) {
    with(|h| h.config = Some(config));
}

/// Answers `bext::http_fetch`: gets the request JSON, returns the response JSON.
pub fn on_fetch(handler: impl FnMut(&str) -> String + 'static) {
    with(|h| h.fetch = Some(Box::new(handler)));
}

/// `(level, message)` of every `bext::log` call so far.
pub fn logs() -> Vec<(String, String)> {
    with(|h| h.logs.clone())
}

/// Every `emit_metric` call so far.
pub fn metrics() -> Vec<Metric> {
    with(|h| h.metrics.clone())
}

/// Request JSON of every `http_fetch` call so far.
pub fn fetches() -> Vec<String> {
    with(|h| h.fetches.clone())
}

/// The plugin's storage keys, sorted.
pub fn storage_keys() -> Vec<String> {
    with(|h| h.storage.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect())
}

/// Messages waiting in a queue, oldest first.
pub fn queue(name: &str) -> Vec<Vec<u8>> {
    with(|h| h.queues.get(name.as_bytes()).map(|q| q.iter().cloned().collect()).unwrap_or_default())
}

pub(crate) mod host {
    use super::{with, Metric};
    use crate::sys::Read;

    const NOT_FOUND: i64 = -1;
    const INVALID_ARGUMENT: i64 = -5;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    pub fn log(level: &[u8], msg: &[u8]) {
        with(|h| h.logs.push((text(level), text(msg))));
    }
    pub fn storage_get(key: &[u8]) -> Read {
        with(|h| h.storage.get(key).cloned().ok_or(NOT_FOUND))
    }
    pub fn storage_set(key: &[u8], value: &[u8]) -> i32 {
        if key.is_empty() || key.len() > 512 {
            return INVALID_ARGUMENT as i32;
        }
        with(|h| h.storage.insert(key.to_vec(), value.to_vec()));
        0
    }
    pub fn storage_delete(key: &[u8]) -> i32 {
        with(|h| if h.storage.remove(key).is_some() { 0 } else { NOT_FOUND as i32 })
    }
    pub fn http_fetch(request_json: &[u8]) -> Read {
        let req = text(request_json);
        with(|h| h.fetches.push(req.clone()));
        // The handler runs outside the borrow so it may call back into the host.
        let handler = with(|h| h.fetch.take());
        let response = match handler {
            Some(mut f) => {
                let r = f(&req);
                with(|h| h.fetch = Some(f));
                r
            }
            None => r#"{"status":0,"error":"no fetch handler set (bext_plugin_api::testing::on_fetch)"}"#.to_string(),
        };
        Ok(response.into_bytes())
    }
    pub fn get_config(key: &[u8]) -> Read {
        with(|h| {
            let mut value = h.config.clone().unwrap_or_else(|| serde_json::json!({}));
            let key = text(key);
            if !key.is_empty() {
                for part in key.split('.') {
                    value = match value.get(part) {
                        Some(v) => v.clone(),
                        None => return Err(NOT_FOUND),
                    };
                }
            }
            Ok(value.to_string().into_bytes())
        })
    }
    pub fn emit_metric(name: &[u8], value: f64, tags_json: &[u8]) {
        with(|h| h.metrics.push(Metric { name: text(name), value, tags_json: text(tags_json) }));
    }
    pub fn kv_get(ns: &[u8], key: &[u8]) -> Read {
        with(|h| h.kv.get(&(ns.to_vec(), key.to_vec())).cloned().ok_or(NOT_FOUND))
    }
    pub fn kv_set(ns: &[u8], key: &[u8], value: &[u8]) -> i32 {
        with(|h| h.kv.insert((ns.to_vec(), key.to_vec()), value.to_vec()));
        0
    }
    pub fn kv_delete(ns: &[u8], key: &[u8]) -> i32 {
        with(|h| if h.kv.remove(&(ns.to_vec(), key.to_vec())).is_some() { 0 } else { NOT_FOUND as i32 })
    }
    pub fn queue_publish(name: &[u8], msg: &[u8]) -> i32 {
        with(|h| h.queues.entry(name.to_vec()).or_default().push_back(msg.to_vec()));
        0
    }
    pub fn queue_consume(name: &[u8]) -> Read {
        with(|h| h.queues.get_mut(name).and_then(|q| q.pop_front()).ok_or(NOT_FOUND))
    }
}
