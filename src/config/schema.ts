/**
 * Validates the parsed TOML against the design's sections and fills defaults, producing a
 * ResolvedConfig. Every problem is recorded (never thrown) so one run shows them all; the
 * caller decides what to do when `problems.count > 0`.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { PathSegment } from './locate.js';
import type { Problems } from './problems.js';
import {
  DEFAULT_FUEL,
  HOOK_NAMES,
  type CacheConfig,
  type HookName,
  type LimitsConfig,
  type PermissionsConfig,
  type PluginConfig,
  type ResolvedConfig,
  type ServerConfig,
} from './types.js';
import { buildTable } from './build-table.js';
import { AllowedUrlError, parseAllowedUrl } from './url-patterns.js';
import {
  checkKeys,
  isTable,
  readArray,
  readBool,
  readHttpUrl,
  readInt,
  readString,
  readTable,
  toJsonValue,
  type IntRule,
  type Table,
} from './values.js';

export interface ValidateOptions {
  /** Check that enabled plugins' .wasm files and an explicit server.root exist. */
  checkFiles: boolean;
}

export const TOP_KEYS = ['server', 'cache', 'plugins'] as const;
export const SERVER_KEYS = ['port', 'host', 'root', 'upstream', 'tenant_id', 'site_id', 'shutdown_drain_ms', 'live_reload'] as const;
export const CACHE_KEYS = ['enabled', 'ttl_secs', 'max_entries', 'max_bytes'] as const;
export const PLUGIN_KEYS = ['sandbox', 'path', 'enabled', 'priority', 'fuel', 'config', 'permissions', 'limits', 'build'] as const;
export const PERMISSION_KEYS = [
  'allowed_urls',
  'storage_quota_kb',
  'max_fetch_per_minute',
  'kv_namespaces',
  'queue_names',
  'fetch_timeout_ms',
  'max_response_bytes',
  'allow_private_networks',
] as const;
export const LIMIT_KEYS = ['max_memory_mb', 'timeout_ms', 'event_queue_size'] as const;

/** Defaults, in one frozen place. */
export const DEFAULTS = Object.freeze({
  server: Object.freeze({ port: 3000, host: '127.0.0.1', root: './public', upstream: null, tenant_id: null, site_id: null, shutdown_drain_ms: 2000, live_reload: true }),
  cache: Object.freeze({ enabled: true, ttl_secs: 60, max_entries: 1000, max_bytes: 67_108_864 }),
  permissions: Object.freeze({
    allowed_urls: Object.freeze([] as string[]),
    storage_quota_kb: 1024,
    max_fetch_per_minute: 30,
    kv_namespaces: Object.freeze([] as string[]),
    queue_names: Object.freeze([] as string[]),
    fetch_timeout_ms: 10_000,
    max_response_bytes: 5_242_880,
    allow_private_networks: false,
  }),
  limits: Object.freeze({ max_memory_mb: 64, timeout_ms: 30_000, event_queue_size: 4096 }),
  sandbox: 'wasm' as const,
  stateDirName: '.bext',
});

export const PLUGIN_NAME = /^[A-Za-z0-9_-]+$/;
const RESOURCE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_FUEL = 2 ** 53;
const INT32_MAX = 2_147_483_647;

const RULES = {
  port: { min: 0, max: 65535, form: 'an integer from 0 to 65535 (0 = any free port)' },
  shutdown_drain_ms: { min: 0, max: INT32_MAX, form: 'an integer ≥ 0 (milliseconds)' },
  ttl_secs: { min: 0, max: INT32_MAX, form: 'an integer ≥ 0 (seconds)' },
  max_entries: { min: 0, max: Number.MAX_SAFE_INTEGER, form: 'an integer ≥ 0' },
  max_bytes: { min: 0, max: Number.MAX_SAFE_INTEGER, form: 'an integer ≥ 0 (bytes)' },
  priority: { min: -INT32_MAX - 1, max: INT32_MAX, form: 'an integer (lower runs first)' },
  fuel: { min: 1, max: MAX_FUEL, form: 'a positive integer up to 9007199254740992 (2^53), e.g. 200_000_000' },
  storage_quota_kb: { min: 0, max: Number.MAX_SAFE_INTEGER, form: 'an integer ≥ 0 (KiB)' },
  max_fetch_per_minute: { min: 0, max: Number.MAX_SAFE_INTEGER, form: 'an integer ≥ 0 (0 = no fetches)' },
  fetch_timeout_ms: { min: 1, max: INT32_MAX, form: 'an integer ≥ 1 (milliseconds)' },
  max_response_bytes: { min: 0, max: Number.MAX_SAFE_INTEGER, form: 'an integer ≥ 0 (bytes)' },
  max_memory_mb: { min: 1, max: 4096, form: 'an integer from 1 to 4096 (MiB)' },
  timeout_ms: { min: 1, max: INT32_MAX, form: 'an integer ≥ 1 (milliseconds)' },
  event_queue_size: { min: 1, max: 10_000_000, form: 'an integer ≥ 1' },
} satisfies Record<string, IntRule>;

/** Reads `table[key]` with `read`, or returns the default when the key is absent. */
function field<T>(
  table: Table,
  base: readonly PathSegment[],
  key: string,
  fallback: T,
  read: (p: PathSegment[], v: unknown) => T | undefined,
): T {
  if (!Object.hasOwn(table, key)) return fallback;
  return read([...base, key], table[key]) ?? fallback;
}

export function validate(raw: Table, file: string, ps: Problems, opts: ValidateOptions): ResolvedConfig {
  const dir = path.dirname(file);
  checkKeys(ps, [], raw, TOP_KEYS, { noun: 'section', belongsIn: topLevelHomes() });
  const serverT = Object.hasOwn(raw, 'server') ? readTable(ps, ['server'], raw.server, 'a table [server]') : undefined;
  const cacheT = Object.hasOwn(raw, 'cache') ? readTable(ps, ['cache'], raw.cache, 'a table [cache]') : undefined;
  const pluginsT = Object.hasOwn(raw, 'plugins') ? readPluginsTable(ps, raw.plugins) : undefined;
  return {
    file,
    dir,
    stateDir: path.join(dir, DEFAULTS.stateDirName),
    server: server(serverT ?? {}, dir, ps, opts),
    cache: cache(cacheT ?? {}, ps),
    plugins: Object.entries(pluginsT ?? {}).flatMap(([name, v]) => {
      const p = plugin(name, v, dir, ps, opts);
      return p ? [p] : [];
    }),
  };
}

/** Keys people put at the top level that belong in a section. */
function topLevelHomes(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SERVER_KEYS) out[k] = 'server';
  for (const k of CACHE_KEYS) out[k] ??= 'cache';
  return out;
}

function readPluginsTable(ps: Problems, v: unknown): Table | undefined {
  if (Array.isArray(v)) {
    ps.add(['plugins'], 'key', {
      what: 'written as an array of tables ([[plugins]])',
      expected: 'one table per plugin, named by the plugin, e.g. [plugins.my-plugin]',
    });
    return undefined;
  }
  return readTable(ps, ['plugins'], v, 'one table per plugin: [plugins.my-plugin]');
}

function server(t: Table, dir: string, ps: Problems, opts: ValidateOptions): ServerConfig {
  const base = ['server'];
  checkKeys(ps, base, t, SERVER_KEYS, { belongsIn: { ttl_secs: 'cache', max_entries: 'cache', max_bytes: 'cache' } });
  const port = field(t, base, 'port', DEFAULTS.server.port, (p, v) => readInt(ps, p, v, RULES.port));
  const host = field(t, base, 'host', DEFAULTS.server.host, (p, v) => readHostName(ps, p, v));
  const upstream = field<string | null>(t, base, 'upstream', DEFAULTS.server.upstream, (p, v) => readHttpUrl(ps, p, v));
  const tenant = field<string | null>(t, base, 'tenant_id', null, (p, v) => readString(ps, p, v, 'a string'));
  const site = field<string | null>(t, base, 'site_id', null, (p, v) => readString(ps, p, v, 'a string'));
  const drain = field(t, base, 'shutdown_drain_ms', DEFAULTS.server.shutdown_drain_ms, (p, v) => readInt(ps, p, v, RULES.shutdown_drain_ms));
  const liveReload = field(t, base, 'live_reload', DEFAULTS.server.live_reload, (p, v) => readBool(ps, p, v));

  let root: string | null;
  if (Object.hasOwn(t, 'root')) {
    const form = 'the path of a folder of static files, e.g. "./public"';
    const r = readString(ps, [...base, 'root'], t.root, form, { nonEmpty: true });
    root = r === undefined ? null : path.resolve(dir, r);
    if (root !== null && opts.checkFiles) {
      const kind = fileKind(root);
      if (kind !== 'dir') {
        ps.add([...base, 'root'], 'value', {
          what: kind === 'missing' ? `folder not found: ${root}` : `not a folder: ${root}`,
          expected: form,
          hint: `relative paths resolve against ${dir}`,
        });
      }
    }
  } else {
    // ./public is the default site unless the user only proxies and has no such folder.
    const def = path.resolve(dir, DEFAULTS.server.root);
    root = fileKind(def) === 'dir' || upstream === null ? def : null;
  }
  return { port, host, root, upstream, tenant_id: tenant, site_id: site, shutdown_drain_ms: drain, live_reload: liveReload };
}

function readHostName(ps: Problems, p: PathSegment[], v: unknown): string | undefined {
  const form = 'a host name or IP address, e.g. "127.0.0.1", "0.0.0.0" or "localhost"';
  const s = readString(ps, p, v, form, { nonEmpty: true });
  if (s === undefined) return undefined;
  if (/[\s/]/.test(s) || s.includes('://')) {
    ps.add(p, 'value', { what: `${JSON.stringify(s)} is not a host name`, expected: form });
    return undefined;
  }
  return s;
}

function cache(t: Table, ps: Problems): CacheConfig {
  const base = ['cache'];
  checkKeys(ps, base, t, CACHE_KEYS);
  const d = DEFAULTS.cache;
  return {
    enabled: field(t, base, 'enabled', d.enabled, (p, v) => readBool(ps, p, v)),
    ttl_secs: field(t, base, 'ttl_secs', d.ttl_secs, (p, v) => readInt(ps, p, v, RULES.ttl_secs)),
    max_entries: field(t, base, 'max_entries', d.max_entries, (p, v) => readInt(ps, p, v, RULES.max_entries)),
    max_bytes: field(t, base, 'max_bytes', d.max_bytes, (p, v) => readInt(ps, p, v, RULES.max_bytes)),
  };
}

/** `[plugins.NAME.section]` as people write it (odd names quoted). */
function pluginTable(name: string, section: string): string {
  return `plugins.${PLUGIN_NAME.test(name) ? name : JSON.stringify(name)}.${section}`;
}

/** Where keys that are misplaced in a plugin's tables belong, for the given sections. */
function homes(name: string, sections: readonly ('permissions' | 'limits' | 'fuel')[]): Record<string, string> {
  const keys = { permissions: PERMISSION_KEYS, limits: LIMIT_KEYS, fuel: HOOK_NAMES };
  const out: Record<string, string> = {};
  for (const section of sections) for (const k of keys[section]) out[k] = pluginTable(name, section);
  return out;
}

function plugin(name: string, v: unknown, dir: string, ps: Problems, opts: ValidateOptions): PluginConfig | undefined {
  const base = ['plugins', name];
  if (!PLUGIN_NAME.test(name)) {
    ps.add(base, 'key', { what: 'invalid plugin name', expected: 'letters, digits, "_" and "-" only, e.g. [plugins.my-analytics]' });
  }
  const t = readTable(ps, base, v, `a table [plugins.${name}] with at least path = "..."`);
  if (!t) return undefined;
  checkKeys(ps, base, t, PLUGIN_KEYS, { belongsIn: homes(name, ['permissions', 'limits', 'fuel']) });

  const sandbox = field<'wasm'>(t, base, 'sandbox', DEFAULTS.sandbox, (p, val) => {
    const s = readString(ps, p, val, '"wasm"');
    if (s === undefined) return undefined;
    if (s !== 'wasm') {
      ps.add(p, 'value', { what: `sandbox ${JSON.stringify(s)} is not supported`, expected: '"wasm"', hint: 'the only sandbox bext runs' });
      return undefined;
    }
    return 'wasm';
  });
  const enabled = field(t, base, 'enabled', true, (p, val) => readBool(ps, p, val));
  const priority = field<number | null>(t, base, 'priority', null, (p, val) => readInt(ps, p, val, RULES.priority));

  const build = buildTable(t, base, dir, ps, { checkFiles: opts.checkFiles, dirExists: (p) => fileKind(p) === 'dir' });
  const pathForm = `the path of the plugin's .wasm file, e.g. path = "./plugins/${name}/plugin.wasm"`;
  let wasm = '';
  if (!(Object.hasOwn(t, 'path'))) {
    ps.add([...base, 'path'], 'key', { what: 'missing', expected: pathForm });
  } else {
    const s = readString(ps, [...base, 'path'], t.path, pathForm, { nonEmpty: true });
    if (s !== undefined) {
      wasm = path.resolve(dir, s);
      // A disabled plugin may point at a file that is not built yet; so may one with a build table (bext builds it).
      if (opts.checkFiles && enabled && !(build && fileKind(wasm) === 'missing')) {
        const kind = fileKind(wasm);
        if (kind !== 'file') {
          ps.add([...base, 'path'], 'value', {
            what: kind === 'missing' ? `file not found: ${wasm}` : `not a file: ${wasm}`,
            expected: 'an existing .wasm file',
            hint: `relative paths resolve against ${dir}`,
          });
        }
      }
    }
  }

  return {
    name,
    sandbox,
    path: wasm,
    enabled,
    priority,
    fuel: fuel(t, base, ps),
    config: pluginConfig(t, base, ps),
    permissions: permissions(t, base, ps),
    limits: limits(t, base, ps),
    ...(build ? { build } : {}),
  };
}

function fuel(t: Table, base: readonly PathSegment[], ps: Problems): Record<HookName, number> {
  const out: Record<HookName, number> = { ...DEFAULT_FUEL };
  if (!(Object.hasOwn(t, 'fuel'))) return out;
  const p = [...base, 'fuel'];
  const ft = readTable(ps, p, t.fuel, `a table of per-hook budgets, e.g. [${pluginTable(String(base[1]), 'fuel')}] on_request_complete = 200_000_000`);
  if (!ft) return out;
  checkKeys(ps, p, ft, HOOK_NAMES, { noun: 'hook' });
  for (const hook of HOOK_NAMES) {
    if (Object.hasOwn(ft, hook)) out[hook] = readInt(ps, [...p, hook], ft[hook], RULES.fuel) ?? out[hook];
  }
  return out;
}

function pluginConfig(t: Table, base: readonly PathSegment[], ps: Problems): Record<string, unknown> {
  if (!(Object.hasOwn(t, 'config'))) return {};
  const p = [...base, 'config'];
  const ct = readTable(ps, p, t.config, `a table [${pluginTable(String(base[1]), 'config')}] (any keys)`);
  if (!ct) return {};
  const v = toJsonValue(ps, p, ct);
  return isTable(v) ? v : {};
}

function readNames(ps: Problems, p: PathSegment[], v: unknown): string[] | undefined {
  const form = 'an array of names (letters, digits, "_", "-", "."), e.g. ["analytics"]';
  return readArray(ps, p, v, form, (ep, e) => {
    const s = readString(ps, ep, e, 'a name (letters, digits, "_", "-", ".")');
    if (s === undefined) return undefined;
    if (!RESOURCE_NAME.test(s)) {
      ps.add(ep, 'value', { what: `${JSON.stringify(s)} is not a valid name`, expected: '1–64 letters, digits, "_", "-" or "."' });
      return undefined;
    }
    return s;
  });
}

function permissions(t: Table, base: readonly PathSegment[], ps: Problems): PermissionsConfig {
  const d = DEFAULTS.permissions;
  const p = [...base, 'permissions'];
  const pt = Object.hasOwn(t, 'permissions') ? readTable(ps, p, t.permissions, `a table [${pluginTable(String(base[1]), 'permissions')}]`) : undefined;
  const tt = pt ?? {};
  if (pt) checkKeys(ps, p, pt, PERMISSION_KEYS, { belongsIn: homes(String(base[1]), ['limits']) });
  const urlForm = 'an array of URL patterns, e.g. ["https://api.example.com/*"]';
  return {
    allowed_urls: field(tt, p, 'allowed_urls', [...d.allowed_urls], (fp, v) =>
      readArray(ps, fp, v, urlForm, (ep, e) => {
        const s = readString(ps, ep, e, 'a URL pattern string, e.g. "https://api.example.com/*"', { nonEmpty: true });
        if (s !== undefined && /\s/.test(s)) {
          ps.add(ep, 'value', { what: `${JSON.stringify(s)} contains whitespace`, expected: 'a URL pattern' });
          return undefined;
        }
        // The same parser http_fetch uses, so a pattern that passes the check is one fetch accepts.
        const bad = s === undefined ? undefined : allowedUrlProblem(s);
        if (bad !== undefined) {
          ps.add(ep, 'value', { what: `${JSON.stringify(s)}: ${bad}`, expected: 'scheme://host[:port][/path], e.g. "https://api.example.com/*"' });
          return undefined;
        }
        return s;
      }),
    ),
    storage_quota_kb: field(tt, p, 'storage_quota_kb', d.storage_quota_kb, (fp, v) => readInt(ps, fp, v, RULES.storage_quota_kb)),
    max_fetch_per_minute: field(tt, p, 'max_fetch_per_minute', d.max_fetch_per_minute, (fp, v) =>
      readInt(ps, fp, v, RULES.max_fetch_per_minute),
    ),
    kv_namespaces: field(tt, p, 'kv_namespaces', [...d.kv_namespaces], (fp, v) => readNames(ps, fp, v)),
    queue_names: field(tt, p, 'queue_names', [...d.queue_names], (fp, v) => readNames(ps, fp, v)),
    fetch_timeout_ms: field(tt, p, 'fetch_timeout_ms', d.fetch_timeout_ms, (fp, v) => readInt(ps, fp, v, RULES.fetch_timeout_ms)),
    max_response_bytes: field(tt, p, 'max_response_bytes', d.max_response_bytes, (fp, v) =>
      readInt(ps, fp, v, RULES.max_response_bytes),
    ),
    allow_private_networks: field(tt, p, 'allow_private_networks', d.allow_private_networks, (fp, v) => readBool(ps, fp, v)),
  };
}

function limits(t: Table, base: readonly PathSegment[], ps: Problems): LimitsConfig {
  const d = DEFAULTS.limits;
  const p = [...base, 'limits'];
  const lt = Object.hasOwn(t, 'limits') ? readTable(ps, p, t.limits, `a table [${pluginTable(String(base[1]), 'limits')}]`) : undefined;
  const tt = lt ?? {};
  if (lt) checkKeys(ps, p, lt, LIMIT_KEYS, { belongsIn: homes(String(base[1]), ['permissions']) });
  return {
    max_memory_mb: field(tt, p, 'max_memory_mb', d.max_memory_mb, (fp, v) => readInt(ps, fp, v, RULES.max_memory_mb)),
    timeout_ms: field(tt, p, 'timeout_ms', d.timeout_ms, (fp, v) => readInt(ps, fp, v, RULES.timeout_ms)),
    event_queue_size: field(tt, p, 'event_queue_size', d.event_queue_size, (fp, v) => readInt(ps, fp, v, RULES.event_queue_size)),
  };
}

function fileKind(p: string): 'file' | 'dir' | 'other' | 'missing' {
  try {
    const st = statSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

function allowedUrlProblem(entry: string): string | undefined {
  try {
    parseAllowedUrl(entry);
    return undefined;
  } catch (err) {
    if (err instanceof AllowedUrlError) return err.problem;
    throw err;
  }
}
