//! The lifecycle plugin trait: one method per bext hook.
//!
//! Every hook has a default that does nothing and returns `Ok(())`, so a plugin implements only
//! the hooks it cares about. Returning `Err(message)` is reported by bext as an `error` outcome
//! with that message in the logs and in `bext plugin stats`; the plugin stays loaded.

/// A plugin that receives notifications at key server lifecycle points.
///
/// All arguments are plain strings; complex values arrive as JSON text. Hooks run off the
/// request path (after the response went out), each under its own fuel budget.
///
/// `&self` is shared: keep mutable state in a `std::sync::Mutex`/`Cell`-like type, or in host
/// storage (`bext::storage_set`) when it must survive a restart or a worker replacement.
pub trait LifecyclePlugin: Send + Sync {
    /// Unique identifier; bext compares it with the name the plugin has in the config.
    fn name(&self) -> &str;

    /// Execution order among plugins for start, reload, stop and cleanup. Lower runs first.
    /// A `priority` in the config file wins over this value.
    fn priority(&self) -> u32 {
        1000
    }

    /// Called once when the server starts (and again after a hot reload of this plugin).
    ///
    /// `config_json` is this plugin's `[plugins.NAME.config]` table as a JSON object.
    fn on_server_start(&self, _config_json: &str) -> Result<(), String> {
        Ok(())
    }

    /// Called when the server is shutting down gracefully, before `cleanup`.
    fn on_server_stop(&self) -> Result<(), String> {
        Ok(())
    }

    /// Called after a response has been sent.
    ///
    /// `event_json` holds `path`, `method`, `status`, `cache_status` (`HIT`, `MISS`, `STALE`,
    /// `BYPASS`), `render_time_us`, `tenant_id`, `site_id`, `encoding`, `is_bot` and possibly
    /// more fields; ignore the ones you do not know.
    fn on_request_complete(&self, _event_json: &str) -> Result<(), String> {
        Ok(())
    }

    /// Called after a response was written to the cache under `key` (e.g. `page:/blog/`).
    /// `tags_json` is a JSON array of the entry's cache tags.
    fn on_cache_write(&self, _key: &str, _tags_json: &str) -> Result<(), String> {
        Ok(())
    }

    /// Called after cache entries matching `pattern` were removed; `count` is how many.
    fn on_cache_invalidate(&self, _pattern: &str, _count: u32) -> Result<(), String> {
        Ok(())
    }

    /// Called when the configuration or the site changed while the server kept running.
    fn on_reload(&self) -> Result<(), String> {
        Ok(())
    }

    /// Called last, before the plugin is unloaded (shutdown, or replacement by a new build).
    fn cleanup(&self) -> Result<(), String> {
        Ok(())
    }
}
