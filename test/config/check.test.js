// `bext config check` / `bext dev --check` on valid configs: defaults, path resolution, overrides,
// and the usage errors around them. Each test writes its own project into a temp folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { cliOverrides, configToJson, loadConfig } from '../../dist/config/index.js';

function project(files) {
  const dir = tempDir('bext-config-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function checkJson(args, cwd) {
  const r = bext(['config', 'check', '--json', ...args], { cwd });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/**
 * What `bext config check --json [-p PORT] [--host HOST]` prints for `dir`/bext.config.toml, from
 * the functions the command calls (loadConfig, cliOverrides, configToJson), in this process: for
 * the tests about how values resolve, where a process per case would check the command no
 * further (the tests above and below run it). Its module checks are the subject of check-plugins.
 */
function resolvedJson(dir, flags = {}) {
  return JSON.parse(JSON.stringify(configToJson(loadConfig(path.join(dir, 'bext.config.toml'), { overrides: cliOverrides(flags) }))));
}

// The smallest module that loads: it exports its memory (config check loads every enabled plugin).
const WASM = '\0asm\x01\0\0\0\x05\x03\x01\0\x01\x07\x0a\x01\x06memory\x02\0';

test('an empty config gets every default', () => {
  const dir = project({ 'bext.config.toml': '' });
  const cfg = checkJson([], dir);
  assert.deepEqual(cfg, {
    file: path.join(dir, 'bext.config.toml'),
    dir,
    stateDir: path.join(dir, '.bext'),
    server: { port: 3000, host: '127.0.0.1', root: path.join(dir, 'public'), upstream: null, tenant_id: null, site_id: null, shutdown_drain_ms: 2000, live_reload: true },
    cache: { enabled: true, ttl_secs: 60, max_entries: 1000, max_bytes: 67108864 },
    plugins: [],
  });
});

test('a plugin gets default fuel, permissions and limits; overrides apply per key', () => {
  const dir = project({
    'bext.config.toml': `
[plugins.my-analytics]
path = "./plugins/a.wasm"
[plugins.my-analytics.fuel]
on_request_complete = 200_000_000
[plugins.my-analytics.permissions]
kv_namespaces = ["analytics"]
[plugins.my-analytics.limits]
timeout_ms = 500
`,
    'plugins/a.wasm': WASM,
  });
  const [p] = resolvedJson(dir).plugins;
  assert.deepEqual(p, {
    name: 'my-analytics',
    sandbox: 'wasm',
    path: path.join(dir, 'plugins', 'a.wasm'),
    enabled: true,
    priority: null,
    fuel: {
      on_server_start: 500000000,
      on_request_complete: 200000000,
      on_cache_write: 50000000,
      on_cache_invalidate: 50000000,
      on_reload: 200000000,
      on_server_stop: 100000000,
      cleanup: 100000000,
    },
    config: {},
    permissions: {
      allowed_urls: [],
      storage_quota_kb: 1024,
      max_fetch_per_minute: 30,
      kv_namespaces: ['analytics'],
      queue_names: [],
      fetch_timeout_ms: 10000,
      max_response_bytes: 5242880,
      allow_private_networks: false,
    },
    limits: { max_memory_mb: 64, timeout_ms: 500, event_queue_size: 4096 },
  });
});

test('relative paths resolve against the config file folder, not the working folder', () => {
  const dir = project({
    'site/bext.config.toml': '[server]\nroot = "../www"\n[plugins.p]\npath = "plugins/p.wasm"\n',
    'www/index.html': 'hi',
    'site/plugins/p.wasm': WASM,
  });
  const cfg = checkJson(['-c', 'site/bext.config.toml'], dir);
  assert.equal(cfg.server.root, path.join(dir, 'www'));
  assert.equal(cfg.plugins[0].path, path.join(dir, 'site', 'plugins', 'p.wasm'));
  assert.equal(cfg.stateDir, path.join(dir, 'site', '.bext'));
  // From elsewhere, with an absolute -c, the result is the same.
  const again = checkJson(['-c', path.join(dir, 'site', 'bext.config.toml')], os.tmpdir());
  assert.deepEqual(again, cfg);
});

test('root defaults to ./public, or to none when only proxying and there is no ./public', () => {
  const proxy = project({ 'bext.config.toml': '[server]\nupstream = "http://127.0.0.1:5173"\n' });
  assert.equal(checkJson([], proxy).server.root, null);
  assert.equal(resolvedJson(proxy).server.upstream, 'http://127.0.0.1:5173');
  const both = project({ 'bext.config.toml': '[server]\nupstream = "https://example.com"\n', 'public/index.html': 'x' });
  assert.equal(resolvedJson(both).server.root, path.join(both, 'public'));
});

test('an explicit root that does not exist is an error naming the resolved folder', () => {
  const dir = project({ 'bext.config.toml': '[server]\nroot = "./site"\n' });
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`bext.config.toml:2:8  server.root: folder not found: ${path.join(dir, 'site')}`));
});

test('plugin config keeps any TOML as JSON: nested tables, arrays, dates as ISO strings', () => {
  const dir = project({
    'bext.config.toml': `
[plugins.p]
path = "p.wasm"
[plugins.p.config]
endpoint = "https://analytics.example.com/ingest"
batch = 50
ratio = 0.25
on = true
since = 1979-05-27T07:32:00Z
day = 1979-05-27
tags = ["a", "b"]
nested = { deep = { list = [1, { x = "y" }] } }
`,
    'p.wasm': WASM,
  });
  const { config } = resolvedJson(dir).plugins[0];
  assert.deepEqual(config, {
    endpoint: 'https://analytics.example.com/ingest',
    batch: 50,
    ratio: 0.25,
    on: true,
    since: '1979-05-27T07:32:00.000Z',
    day: '1979-05-27',
    tags: ['a', 'b'],
    nested: { deep: { list: [1, { x: 'y' }] } },
  });
});

test('fuel accepts up to 2^53 in any TOML integer form; a disabled plugin may lack its file', () => {
  const dir = project({
    'bext.config.toml': `
[plugins.p]
path = "missing.wasm"
enabled = false
priority = -5
fuel = { on_server_start = 9_007_199_254_740_992, cleanup = 0x10, on_reload = 1 }
`,
  });
  const [p] = resolvedJson(dir).plugins;
  assert.equal(p.enabled, false);
  assert.equal(p.priority, -5);
  assert.equal(p.fuel.on_server_start, 2 ** 53);
  assert.equal(p.fuel.cleanup, 16);
  assert.equal(p.fuel.on_reload, 1);
  assert.equal(p.path, path.join(dir, 'missing.wasm'));
});

test('-p and --host override the file; both commands print the same config', () => {
  const dir = project({ 'bext.config.toml': '[server]\nport = 4000\n' });
  assert.equal(resolvedJson(dir).server.port, 4000);
  const over = checkJson(['-p', '0', '--host', '0.0.0.0'], dir);
  assert.equal(over.server.port, 0);
  assert.equal(over.server.host, '0.0.0.0');
  const dev = bext(['dev', '--check', '-p', '8080'], { cwd: dir });
  assert.equal(dev.code, 0, dev.stderr);
  assert.match(dev.stdout, /listen\s+http:\/\/127\.0\.0\.1:8080\n/);
});

test('a bad -p or --host is a usage error (exit 2)', () => {
  const dir = project({ 'bext.config.toml': '' });
  const r = bext(['dev', '--check', '-p', '70000'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^bext: invalid --port /);
  assert.equal(r.stdout, '');
  // The other spellings go through the same check (cliOverrides), which throws the usage error
  // that main turns into exit 2 and the `bext: ` line above.
  for (const flags of [{ port: 'abc' }, { port: '-1' }, { host: 'http://x/' }]) {
    assert.throws(() => cliOverrides(flags), (err) => err.exitCode === 2 && /^invalid --(port|host) /.test(err.message), JSON.stringify(flags));
  }
});

test('the readable output shows every resolved value', () => {
  const dir = project({
    'bext.config.toml': '[server]\nport = 8081\n[cache]\nttl_secs = 5\n[plugins.alpha]\npath = "a.wasm"\npriority = 7\n[plugins.alpha.permissions]\nallowed_urls = ["https://x.example/*"]\n[plugins.beta]\npath = "b.wasm"\nenabled = false\n',
    'a.wasm': WASM,
  });
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bext\.config\.toml: config is valid\n/);
  assert.match(r.stdout, /listen\s+http:\/\/127\.0\.0\.1:8081/);
  assert.match(r.stdout, /ttl\s+5 s/);
  assert.match(r.stdout, /plugins: 2 configured, 1 enabled/);
  assert.match(r.stdout, /\n {2}alpha\n/);
  assert.match(r.stdout, /\n {2}beta \(disabled\)\n/);
  assert.match(r.stdout, /priority\s+7\n/);
  assert.match(r.stdout, /on_request_complete\s+100,000,000/);
  assert.match(r.stdout, /allowed_urls\s+https:\/\/x\.example\/\*/);
  assert.match(r.stdout, new RegExp(`path\\s+${path.join(dir, 'a.wasm').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('a missing config file is a clear error with the path and a hint (exit 2)', () => {
  const dir = project({});
  for (const cmd of [['config', 'check'], ['dev', '--check']]) {
    const r = bext([...cmd, '-c', 'nope.toml'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n')[0], `bext: config file not found: ${path.join(dir, 'nope.toml')}`);
    assert.match(r.stderr, /bext init/);
  }
});

test('a config with three different mistakes reports all three with file:line and exits 2', () => {
  const dir = project({
    'bext.config.toml': [
      '[server]',
      'port = "3000"',
      '',
      '[plugins.my-analytics]',
      'path = "./plugins/my-analytics/plugin.wasm"',
      '',
      '[plugins.my-analytics.fuel]',
      'on_request_complet = 200_000_000',
      '',
    ].join('\n'),
  });
  const r = bext(['config', 'check'], { cwd: dir });
  assert.equal(r.code, 2);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'bext: bext.config.toml: 3 problems in the config');
  assert.match(lines[1], /^ {2}bext\.config\.toml:2:8 {2}server\.port: wrong type \(string "3000"\), expected an integer/);
  assert.match(lines[2], /^ {2}bext\.config\.toml:5:8 {2}plugins\.my-analytics\.path: file not found: .*plugins\/my-analytics\/plugin\.wasm/);
  assert.ok(lines[2].includes(path.join(dir, 'plugins', 'my-analytics', 'plugin.wasm')), 'names the resolved path');
  assert.match(lines[3], /^ {2}bext\.config\.toml:8:1 {2}plugins\.my-analytics\.fuel\.on_request_complet: unknown hook.*\(did you mean "on_request_complete"\?\)$/);
  assert.equal(lines.length, 4);
});

test('a config path that is a folder is a clear error', () => {
  const dir = project({ 'sub/x': '' });
  const r = bext(['config', 'check', '-c', 'sub'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /config path is a folder/);
});

test('usage errors in subcommands exit 2 (unknown option, extra argument)', () => {
  const dir = project({ 'bext.config.toml': '' });
  for (const args of [['dev', '--check', '--bogus'], ['config', 'check', '--nope'], ['init', 'a', 'b']]) {
    const r = bext(args, { cwd: dir });
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /error: (unknown option|too many arguments)/);
  }
});
