/** The resolved, validated configuration every other part of bext consumes. Paths are absolute. */
export const HOOK_NAMES = [
  'on_server_start',
  'on_request_complete',
  'on_cache_write',
  'on_cache_invalidate',
  'on_reload',
  'on_server_stop',
  'cleanup',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export const DEFAULT_FUEL: Readonly<Record<HookName, number>> = Object.freeze({
  on_server_start: 500_000_000,
  on_request_complete: 100_000_000,
  on_cache_write: 50_000_000,
  on_cache_invalidate: 50_000_000,
  on_reload: 200_000_000,
  on_server_stop: 100_000_000,
  cleanup: 100_000_000,
});

export interface ServerConfig {
  port: number;
  host: string;
  /** Absolute path of the static root, or null when only proxying. */
  root: string | null;
  upstream: string | null;
  tenant_id: string | null;
  site_id: string | null;
  /** How long shutdown waits for in-flight responses and queued events together (ms); the rest is dropped and counted. */
  shutdown_drain_ms: number;
  /** Pages served from `root` reload in the browser when a file under it changes (needs the watcher). */
  live_reload: boolean;
}

export interface CacheConfig {
  enabled: boolean;
  ttl_secs: number;
  max_entries: number;
  max_bytes: number;
}

export interface PermissionsConfig {
  allowed_urls: string[];
  storage_quota_kb: number;
  max_fetch_per_minute: number;
  kv_namespaces: string[];
  queue_names: string[];
  fetch_timeout_ms: number;
  max_response_bytes: number;
  /**
   * Lets DNS names in allowed_urls resolve to loopback, private, link-local and unique-local
   * addresses (docs/permissions.md). IP literals and `localhost` named in allowed_urls never need it.
   */
  allow_private_networks: boolean;
}

export interface LimitsConfig {
  max_memory_mb: number;
  timeout_ms: number;
  event_queue_size: number;
}

/** `[plugins.NAME.build]`: how to rebuild the plugin's .wasm from source (src/config/build-table.ts). */
export interface BuildConfig {
  /** An argv array (run directly) or a string (run through the shell). */
  command: string | string[];
  /** Source globs relative to `cwd`; a change to a match rebuilds under `bext dev`. */
  watch: string[];
  /** Absolute folder the command runs in (default: the config file's folder). */
  cwd: string;
}

export interface PluginConfig {
  name: string;
  sandbox: 'wasm';
  /** Absolute path of the .wasm file. */
  path: string;
  enabled: boolean;
  /** From config; null means ask the guest (bext_priority) or use 1000. */
  priority: number | null;
  fuel: Record<HookName, number>;
  /** Arbitrary plugin config (TOML converted to plain JSON values). */
  config: Record<string, unknown>;
  permissions: PermissionsConfig;
  limits: LimitsConfig;
  /** Present only when the plugin has a `[plugins.NAME.build]` table. */
  build?: BuildConfig;
}

export interface ResolvedConfig {
  /** Absolute path of the config file. */
  file: string;
  /** Folder of the config file; relative paths resolve against it. */
  dir: string;
  /** Absolute path of the state folder (`.bext/` beside the config): cache, state.db. */
  stateDir: string;
  server: ServerConfig;
  cache: CacheConfig;
  plugins: PluginConfig[];
}
