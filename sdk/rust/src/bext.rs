//! Safe wrappers over the host services bext gives every plugin.
//!
//! Each call is checked by the host against the plugin's `[permissions]`; refusals come back as
//! an [`Error`] (permission denied, quota exceeded, rate limited...). `Error` converts into
//! `String`, so `?` works inside hooks that return `Result<(), String>`.
//!
//! ```ignore
//! use bext_plugin_api::bext;
//! bext::log("info", "hello from a plugin");
//! bext::storage_set("visits", "42")?;
//! let visits = bext::storage_get_string("visits")?;           // Some("42")
//! bext::emit_metric("page_views", 1.0, &[("path", "/blog")]);
//! let res = bext::http_fetch(&bext::HttpRequest::get("https://api.example.com/ping"))?;
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::sys;

/// Why a host call failed. The numeric codes are ABI v1's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// -1: the key, config value or message does not exist (most getters return `Ok(None)` instead).
    NotFound,
    /// -2: not allowed by this plugin's permissions (namespace, queue or URL not listed).
    PermissionDenied,
    /// -3: the write would exceed `storage_quota_kb`; nothing was written.
    QuotaExceeded,
    /// -4: too many calls (e.g. `max_fetch_per_minute`).
    RateLimited,
    /// -5: the host rejected an argument (empty or over-long key, bad JSON...).
    InvalidArgument,
    /// -6: the value or message is larger than the host accepts.
    TooLarge,
    /// -7: the host failed internally; the call may succeed later.
    Internal,
    /// Any other negative code.
    Code(i64),
    /// `http_fetch` could not produce a response (refused URL, DNS, timeout...): the host's reason.
    Fetch(String),
    /// Bytes from the host (or for it) were not the UTF-8 or JSON they should be.
    Decode(String),
}

impl Error {
    /// Maps an ABI return code (negative) to an error.
    pub fn from_code(code: i64) -> Error {
        match code {
            -1 => Error::NotFound,
            -2 => Error::PermissionDenied,
            -3 => Error::QuotaExceeded,
            -4 => Error::RateLimited,
            -5 => Error::InvalidArgument,
            -6 => Error::TooLarge,
            -7 => Error::Internal,
            other => Error::Code(other),
        }
    }

    /// The ABI code, for errors that have one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::NotFound => Some(-1),
            Error::PermissionDenied => Some(-2),
            Error::QuotaExceeded => Some(-3),
            Error::RateLimited => Some(-4),
            Error::InvalidArgument => Some(-5),
            Error::TooLarge => Some(-6),
            Error::Internal => Some(-7),
            Error::Code(c) => Some(*c),
            Error::Fetch(_) | Error::Decode(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => write!(f, "not found (-1)"),
            Error::PermissionDenied => write!(f, "permission denied (-2)"),
            Error::QuotaExceeded => write!(f, "storage quota exceeded (-3)"),
            Error::RateLimited => write!(f, "rate limited (-4)"),
            Error::InvalidArgument => write!(f, "invalid argument (-5)"),
            Error::TooLarge => write!(f, "too large (-6)"),
            Error::Internal => write!(f, "host internal error (-7)"),
            Error::Code(c) => write!(f, "host error ({})", c),
            Error::Fetch(reason) => write!(f, "fetch failed: {}", reason),
            Error::Decode(reason) => write!(f, "{}", reason),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

fn status(code: i32) -> Result<(), Error> {
    if code < 0 {
        Err(Error::from_code(code as i64))
    } else {
        Ok(())
    }
}

/// Not found becomes `None`; other codes are errors.
fn optional(read: sys::Read) -> Result<Option<Vec<u8>>, Error> {
    match read {
        Ok(bytes) => Ok(Some(bytes)),
        Err(-1) => Ok(None),
        Err(code) => Err(Error::from_code(code)),
    }
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::Decode(format!("{} is not valid UTF-8", what)))
}

/// Deleted → `true`, not found → `false`.
fn deleted(code: i32) -> Result<bool, Error> {
    match code {
        -1 => Ok(false),
        c if c < 0 => Err(Error::from_code(c as i64)),
        _ => Ok(true),
    }
}

// ---------------------------------------------------------------------------------------------
// Logging

/// Logs through bext's logger, attributed to this plugin. `level`: `trace`, `debug`, `info`,
/// `warn` or `error`. bext shows plugin warnings and errors by default; run with
/// `BEXT_PLUGIN_LOG=debug` to see everything.
pub fn log(level: &str, msg: &str) {
    sys::log(level.as_bytes(), msg.as_bytes());
}

/// `log("debug", msg)`
pub fn debug(msg: &str) {
    log("debug", msg);
}
/// `log("info", msg)`
pub fn info(msg: &str) {
    log("info", msg);
}
/// `log("warn", msg)`
pub fn warn(msg: &str) {
    log("warn", msg);
}
/// `log("error", msg)`
pub fn error(msg: &str) {
    log("error", msg);
}

// ---------------------------------------------------------------------------------------------
// Plugin-scoped storage (persistent, counted against storage_quota_kb)

/// Reads a key of this plugin's storage. `Ok(None)` when the key does not exist.
pub fn storage_get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    optional(sys::storage_get(key.as_bytes()))
}

/// [`storage_get`] for values that are text.
pub fn storage_get_string(key: &str) -> Result<Option<String>, Error> {
    match storage_get(key)? {
        Some(bytes) => Ok(Some(utf8(bytes, &format!("storage value of {:?}", key))?)),
        None => Ok(None),
    }
}

/// Writes a key (1–512 bytes). The write is durable once this returns `Ok`. A write that would
/// exceed the quota is refused whole with [`Error::QuotaExceeded`].
pub fn storage_set(key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    status(sys::storage_set(key.as_bytes(), value.as_ref()))
}

/// Deletes a key. `Ok(true)` if it existed, `Ok(false)` if it did not.
pub fn storage_delete(key: &str) -> Result<bool, Error> {
    deleted(sys::storage_delete(key.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Shared KV namespaces (only the ones listed in kv_namespaces)

/// Reads `key` from the shared namespace `namespace`. `Ok(None)` when it does not exist.
pub fn kv_get(namespace: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
    optional(sys::kv_get(namespace.as_bytes(), key.as_bytes()))
}

/// [`kv_get`] for values that are text.
pub fn kv_get_string(namespace: &str, key: &str) -> Result<Option<String>, Error> {
    match kv_get(namespace, key)? {
        Some(bytes) => Ok(Some(utf8(bytes, &format!("kv value of {:?}", key))?)),
        None => Ok(None),
    }
}

/// Writes `key` in the shared namespace `namespace`.
pub fn kv_set(namespace: &str, key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
    status(sys::kv_set(namespace.as_bytes(), key.as_bytes(), value.as_ref()))
}

/// Deletes `key` from `namespace`. `Ok(true)` if it existed.
pub fn kv_delete(namespace: &str, key: &str) -> Result<bool, Error> {
    deleted(sys::kv_delete(namespace.as_bytes(), key.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Queues (only the ones listed in queue_names)

/// Appends a message to the durable FIFO queue `name`.
pub fn queue_publish(name: &str, message: impl AsRef<[u8]>) -> Result<(), Error> {
    status(sys::queue_publish(name.as_bytes(), message.as_ref()))
}

/// Takes the oldest message of queue `name`; `Ok(None)` when the queue is empty.
pub fn queue_consume(name: &str) -> Result<Option<Vec<u8>>, Error> {
    optional(sys::queue_consume(name.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Config

/// Reads this plugin's config (`[plugins.NAME.config]`) as JSON. Dots walk into tables
/// (`"upstream.url"`); an empty key returns the whole table. `Ok(None)` when the key is missing.
pub fn get_config(key: &str) -> Result<Option<serde_json::Value>, Error> {
    match optional(sys::get_config(key.as_bytes()))? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode(format!("config value {:?} is not JSON: {}", key, e))),
        None => Ok(None),
    }
}

/// [`get_config`] deserialized into any serde type, e.g. `get_config_as::<u64>("batch_size")`.
pub fn get_config_as<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get_config(key)? {
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::Decode(format!("config value {:?} has the wrong type: {}", key, e))),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// Adds a sample to metric `name` (exposed in Prometheus text at `/__bext/metrics`, labelled
/// with the plugin name and these tags).
pub fn emit_metric(name: &str, value: f64, tags: &[(&str, &str)]) {
    let mut map = serde_json::Map::new();
    for (k, v) in tags {
        map.insert((*k).to_string(), serde_json::Value::String((*v).to_string()));
    }
    let tags_json = serde_json::Value::Object(map).to_string();
    sys::emit_metric(name.as_bytes(), value, tags_json.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// An outgoing request. Only URLs matching the plugin's `allowed_urls` are fetched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    /// `[name, value]` pairs, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl HttpRequest {
    /// A request with any method and no body.
    pub fn new(method: &str, url: &str) -> HttpRequest {
        HttpRequest { url: url.to_string(), method: method.to_string(), headers: Vec::new(), body: None }
    }

    /// `GET url`
    pub fn get(url: &str) -> HttpRequest {
        HttpRequest::new("GET", url)
    }

    /// `POST url` with a text body.
    pub fn post(url: &str, body: impl Into<String>) -> HttpRequest {
        HttpRequest::new("POST", url).body(body)
    }

    /// `POST url` with `value` serialized as the JSON body and `content-type: application/json`.
    pub fn post_json<T: Serialize + ?Sized>(url: &str, value: &T) -> Result<HttpRequest, Error> {
        let body = serde_json::to_string(value).map_err(|e| Error::Decode(format!("request body: {}", e)))?;
        Ok(HttpRequest::post(url, body).header("content-type", "application/json"))
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<String>) -> HttpRequest {
        self.body = Some(body.into());
        self
    }
}

/// The response to an [`HttpRequest`]. Any HTTP status (including 4xx/5xx) is a response;
/// check [`HttpResponse::is_success`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body as text (empty when the body was binary; see `body_base64`).
    #[serde(default)]
    pub body: String,
    /// Set instead of `body` when the response body is not UTF-8.
    #[serde(default)]
    pub body_base64: Option<String>,
}

impl HttpResponse {
    /// Status 200–299.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.body).map_err(|e| Error::Decode(format!("response body is not the expected JSON: {}", e)))
    }
}

/// What the host sends back: a response, or `{"status":0,"error":"..."}`.
#[derive(Deserialize)]
struct RawResponse {
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Performs an HTTP request through the host (redirects followed, every hop checked against
/// `allowed_urls`). A refused URL, a network failure or a timeout is `Err(Error::Fetch(reason))`.
pub fn http_fetch(request: &HttpRequest) -> Result<HttpResponse, Error> {
    let json = serde_json::to_vec(request).map_err(|e| Error::Decode(format!("request: {}", e)))?;
    let bytes = sys::http_fetch(&json).map_err(Error::from_code)?;
    let raw: RawResponse = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Decode(format!("http_fetch response is not the expected JSON: {}", e)))?;
    if raw.status == 0 {
        return Err(Error::Fetch(raw.error.unwrap_or_else(|| "unknown error".to_string())));
    }
    Ok(HttpResponse {
        status: raw.status,
        headers: raw.headers,
        body: raw.body.unwrap_or_default(),
        body_base64: raw.body_base64,
    })
}
