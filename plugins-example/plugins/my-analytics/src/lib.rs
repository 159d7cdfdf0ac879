//! my-analytics: buffers request events in plugin storage and ships them in batches.
//!
//! Config (`[plugins.my-analytics.config]`):
//!   endpoint   = "http://127.0.0.1:4000/ingest"   where batches are POSTed (must be in allowed_urls)
//!   batch_size = 5                                 events per batch (default 10)
//!   max_buffer = 1000                              events kept while the endpoint is down (default 1000)
//!
//! Storage keys: `buffer` (events not yet delivered, one JSON object per line, oldest first) and
//! `totals` (`{"events_sent", "batches_sent", "failed_flushes", "dropped"}`).
//! The buffer is appended to without being parsed, so an event costs the same fuel however many
//! are waiting; only a flush parses the lines it sends.
//! Metric: `analytics_events` (events per delivered batch, tag `trigger` = `batch` | `cleanup`).

use bext_plugin_api::{bext, lifecycle::LifecyclePlugin};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Mutex;

const BUFFER_KEY: &str = "buffer";
const TOTALS_KEY: &str = "totals";

#[derive(Clone, Debug, Deserialize)]
struct Config {
    endpoint: String,
    #[serde(default = "default_batch_size")]
    batch_size: usize,
    #[serde(default = "default_max_buffer")]
    max_buffer: usize,
}

fn default_batch_size() -> usize {
    10
}
fn default_max_buffer() -> usize {
    1000
}

#[derive(Default, Serialize, Deserialize)]
struct Totals {
    events_sent: u64,
    batches_sent: u64,
    failed_flushes: u64,
    dropped: u64,
}

#[derive(Serialize)]
struct Batch<'a> {
    source: &'a str,
    events: &'a [Value],
}

/// Parsed once in on_server_start; read lazily from the host when a hook runs without it
/// (e.g. `bext plugin run ... on_request_complete`).
static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

pub struct AnalyticsPlugin;

impl AnalyticsPlugin {
    fn config(&self) -> Result<Config, String> {
        let mut slot = CONFIG.lock().map_err(|_| "config lock poisoned".to_string())?;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let value = bext::get_config("")?.unwrap_or(Value::Null);
        let config = parse_config(value)?;
        *slot = Some(config.clone());
        Ok(config)
    }

    fn load_buffer(&self) -> Result<Vec<u8>, String> {
        Ok(bext::storage_get(BUFFER_KEY)?.unwrap_or_default())
    }

    fn save_buffer(&self, lines: &[u8]) -> Result<(), String> {
        if lines.is_empty() {
            bext::storage_delete(BUFFER_KEY)?;
        } else {
            bext::storage_set(BUFFER_KEY, lines)?;
        }
        Ok(())
    }

    fn update_totals(&self, f: impl FnOnce(&mut Totals)) -> Result<(), String> {
        let mut totals: Totals = match bext::storage_get(TOTALS_KEY)? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => Totals::default(),
        };
        f(&mut totals);
        bext::storage_set(TOTALS_KEY, serde_json::to_vec(&totals).map_err(|e| e.to_string())?)?;
        Ok(())
    }

    /// POSTs `events` to the endpoint. On success the caller clears what was sent.
    fn send(&self, config: &Config, events: &[Value], trigger: &str) -> Result<(), String> {
        let request = bext::HttpRequest::post_json(&config.endpoint, &Batch { source: self.name(), events })?
            .header("x-bext-plugin", self.name());
        let outcome = match bext::http_fetch(&request) {
            Ok(res) if res.is_success() => Ok(()),
            Ok(res) => Err(format!("HTTP {}", res.status)),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                let n = events.len();
                bext::emit_metric("analytics_events", n as f64, &[("trigger", trigger)]);
                self.update_totals(|t| {
                    t.events_sent += n as u64;
                    t.batches_sent += 1;
                })?;
                bext::info(&format!("sent a batch of {} event{} to {}", n, if n == 1 { "" } else { "s" }, config.endpoint));
                Ok(())
            }
            Err(reason) => {
                self.update_totals(|t| t.failed_flushes += 1)?;
                Err(format!(
                    "could not deliver {} event{} to {}: {} (kept for the next flush)",
                    events.len(),
                    if events.len() == 1 { "" } else { "s" },
                    config.endpoint,
                    reason
                ))
            }
        }
    }
}

fn parse_config(value: Value) -> Result<Config, String> {
    let config: Config = serde_json::from_value(value)
        .map_err(|e| format!("invalid [plugins.my-analytics.config]: {} (expected endpoint = \"http...\", batch_size = N)", e))?;
    if !(config.endpoint.starts_with("http://") || config.endpoint.starts_with("https://")) {
        return Err(format!("invalid config: endpoint {:?} must be an http:// or https:// URL", config.endpoint));
    }
    if config.batch_size == 0 {
        return Err("invalid config: batch_size must be at least 1".to_string());
    }
    Ok(config)
}

fn line_count(lines: &[u8]) -> usize {
    lines.iter().filter(|&&b| b == b'\n').count()
}

/// Byte offset just past the first `n` lines.
fn after_lines(lines: &[u8], n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let mut seen = 0;
    for (i, &b) in lines.iter().enumerate() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    lines.len()
}

/// Parses buffered lines; a line that is not JSON (e.g. a hand-edited buffer) is skipped.
fn parse_lines(lines: &[u8]) -> Vec<Value> {
    lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()).filter_map(|l| serde_json::from_slice(l).ok()).collect()
}

/// Keeps only what an analytics backend needs, so the stored buffer stays small.
fn slim(event: Value) -> Value {
    const FIELDS: [&str; 9] =
        ["path", "method", "status", "cache_status", "render_time_us", "is_bot", "encoding", "tenant_id", "site_id"];
    match event {
        Value::Object(mut map) => {
            map.retain(|k, _| FIELDS.contains(&k.as_str()));
            Value::Object(map)
        }
        other => other,
    }
}

impl LifecyclePlugin for AnalyticsPlugin {
    fn name(&self) -> &str {
        "my-analytics"
    }

    fn on_server_start(&self, config_json: &str) -> Result<(), String> {
        let value: Value = serde_json::from_str(config_json).map_err(|e| format!("config is not JSON: {}", e))?;
        let config = parse_config(value)?;
        let pending = line_count(&self.load_buffer()?);
        bext::info(&format!(
            "sending batches of {} events to {} ({} waiting from last run)",
            config.batch_size, config.endpoint, pending
        ));
        *CONFIG.lock().map_err(|_| "config lock poisoned".to_string())? = Some(config);
        Ok(())
    }

    fn on_request_complete(&self, event_json: &str) -> Result<(), String> {
        let event: Value = serde_json::from_str(event_json).map_err(|e| format!("event is not JSON: {}", e))?;
        if !event.is_object() {
            return Err("event is not a JSON object".to_string());
        }
        let config = self.config()?;
        let mut buffer = self.load_buffer()?;
        buffer.extend(serde_json::to_vec(&slim(event)).map_err(|e| e.to_string())?);
        buffer.push(b'\n');
        let mut count = line_count(&buffer);
        if count > config.max_buffer {
            let dropped = count - config.max_buffer;
            buffer.drain(..after_lines(&buffer, dropped));
            count = config.max_buffer;
            self.update_totals(|t| t.dropped += dropped as u64)?;
            bext::warn(&format!("buffer full: dropped the {} oldest events", dropped));
        }
        // Try to deliver each time another full batch has accumulated (or the buffer is full),
        // so an unreachable endpoint costs one attempt per batch_size events, not one per event.
        let due = count % config.batch_size == 0 || count >= config.max_buffer;
        if count < config.batch_size || !due {
            return self.save_buffer(&buffer);
        }
        let mut sent = 0;
        while count >= config.batch_size {
            let end = sent + after_lines(&buffer[sent..], config.batch_size);
            if let Err(e) = self.send(&config, &parse_lines(&buffer[sent..end]), "batch") {
                // Nothing is lost: undelivered events stay, oldest first.
                buffer.drain(..sent);
                self.save_buffer(&buffer)?;
                return Err(e);
            }
            sent = end;
            count -= config.batch_size;
        }
        buffer.drain(..sent);
        self.save_buffer(&buffer)
    }

    /// The config may have changed: read it again from the host on the next event.
    fn on_reload(&self) -> Result<(), String> {
        *CONFIG.lock().map_err(|_| "config lock poisoned".to_string())? = None;
        Ok(())
    }

    fn cleanup(&self) -> Result<(), String> {
        let buffer = self.load_buffer()?;
        let events = parse_lines(&buffer);
        if events.is_empty() {
            return self.save_buffer(&[]);
        }
        let config = self.config()?;
        self.send(&config, &events, "cleanup")?;
        self.save_buffer(&[])
    }
}

bext_plugin_api::export_plugin!(AnalyticsPlugin; on_server_start, on_request_complete, on_reload, cleanup);

#[cfg(test)]
mod tests {
    use super::*;
    use bext_plugin_api::testing;

    // CONFIG is process-wide while the mock host is per thread: run these tests one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn setup(batch_size: usize) -> std::sync::MutexGuard<'static, ()> {
        let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        testing::reset();
        *CONFIG.lock().unwrap() = None;
        testing::set_config(serde_json::json!({ "endpoint": "http://127.0.0.1:4000/ingest", "batch_size": batch_size }));
        guard
    }

    #[test]
    fn buffers_then_flushes_a_full_batch() {
        let _serial = setup(2);
        testing::on_fetch(|_| r#"{"status":200,"headers":[],"body":"ok"}"#.to_string());
        AnalyticsPlugin.on_request_complete(r#"{"path":"/a","status":200}"#).unwrap();
        assert_eq!(testing::storage_keys(), vec!["buffer"]);
        assert!(testing::fetches().is_empty());
        AnalyticsPlugin.on_request_complete(r#"{"path":"/b","status":200}"#).unwrap();
        assert_eq!(testing::fetches().len(), 1);
        assert!(testing::fetches()[0].contains("/a") && testing::fetches()[0].contains("/b"));
        assert_eq!(testing::storage_keys(), vec!["totals"]);
        assert_eq!(testing::metrics()[0].value, 2.0);
    }

    #[test]
    fn after_a_failure_retries_once_per_batch_and_then_sends_every_full_batch() {
        let _serial = setup(2);
        testing::on_fetch(|_| r#"{"status":0,"error":"connection refused"}"#.to_string());
        AnalyticsPlugin.on_request_complete(r#"{"path":"/1"}"#).unwrap();
        assert!(AnalyticsPlugin.on_request_complete(r#"{"path":"/2"}"#).is_err());
        AnalyticsPlugin.on_request_complete(r#"{"path":"/3"}"#).unwrap();
        assert_eq!(testing::fetches().len(), 1, "no attempt until another batch is complete");
        testing::on_fetch(|_| r#"{"status":200,"headers":[],"body":""}"#.to_string());
        AnalyticsPlugin.on_request_complete(r#"{"path":"/4"}"#).unwrap();
        assert_eq!(testing::fetches().len(), 3, "both full batches sent");
        assert!(!testing::storage_keys().contains(&"buffer".to_string()));
    }

    #[test]
    fn failed_flush_keeps_events_and_reports_error() {
        let _serial = setup(1);
        testing::on_fetch(|_| r#"{"status":0,"error":"connection refused"}"#.to_string());
        let err = AnalyticsPlugin.on_request_complete(r#"{"path":"/a"}"#).unwrap_err();
        assert!(err.contains("connection refused"), "{}", err);
        assert!(testing::storage_keys().contains(&"buffer".to_string()));
    }
}
