/**
 * What `bext init` writes: a commented config that validates exactly as written (the plugin
 * section is commented out, so it names no missing file), a starter page, and the .gitignore
 * line that keeps bext's state out of version control.
 */

export const CONFIG_TEMPLATE = `# bext dev server configuration. Every key is optional; the values shown are the defaults.
# Reference: docs/config.md. Check this file with: bext config check

[server]
port = 3000                 # 0 = any free port; bext dev -p PORT overrides it
host = "127.0.0.1"          # "0.0.0.0" to accept connections from other machines
root = "./public"           # static files, relative to this file
# upstream = "http://127.0.0.1:5173"   # reverse-proxy the app you are developing
# tenant_id = "acme"                   # passed to plugins in every request event
# site_id = "www"

[cache]
enabled = true
ttl_secs = 60               # how long a cached response stays fresh
max_entries = 1000
max_bytes = 67_108_864      # 64 MiB

# A plugin is a wasm32-wasi module. Uncomment and point path at a built .wasm file
# (see plugins-example/ for plugins written in Rust, C and AssemblyScript).
#
# [plugins.my-analytics]
# sandbox = "wasm"                              # the only sandbox bext runs
# path = "./plugins/my-analytics/plugin.wasm"   # relative to this file
# enabled = true
# priority = 1000                               # lower runs first; default: the plugin's bext_priority()
#
# [plugins.my-analytics.fuel]                   # per-hook budgets (defaults shown)
# on_server_start = 500_000_000
# on_request_complete = 100_000_000
# on_cache_write = 50_000_000
# on_cache_invalidate = 50_000_000
# on_reload = 200_000_000
# on_server_stop = 100_000_000
# cleanup = 100_000_000
#
# [plugins.my-analytics.config]                 # any TOML; the plugin reads it as JSON
# endpoint = "https://analytics.example.com/ingest"
#
# [plugins.my-analytics.permissions]
# allowed_urls = ["https://analytics.example.com/*"]   # empty = no network
# max_fetch_per_minute = 30
# fetch_timeout_ms = 10_000
# max_response_bytes = 5_242_880
# allow_private_networks = false                # true: DNS names above may resolve to private addresses
# storage_quota_kb = 1024
# kv_namespaces = ["analytics"]                 # shared key-value namespaces
# queue_names = ["events"]
#
# [plugins.my-analytics.limits]
# max_memory_mb = 64                            # linear memory cap
# timeout_ms = 30_000                           # wall-clock backstop per hook call
# event_queue_size = 4096                       # queued request events before the oldest is dropped
`;

export const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>bext</title>
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
      code { background: #f2f2f2; padding: 0.1em 0.3em; border-radius: 3px; }
    </style>
  </head>
  <body>
    <h1>It works</h1>
    <p>This page is served by <code>bext dev</code> from <code>public/index.html</code>.</p>
    <p>Edit it and reload; add plugins in <code>bext.config.toml</code>.</p>
  </body>
</html>
`;

/** The line `bext init` makes sure a .gitignore has: the instrumented-module cache and state.db. */
export const GITIGNORE_LINE = '.bext/';

export const GITIGNORE = `# bext's cache and state (instrumented plugins, state.db); rebuilt as needed
${GITIGNORE_LINE}
`;
