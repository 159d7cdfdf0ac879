/**
 * `bext plugin run FILE|NAME HOOK [--input JSON|@file] [--fuel N] [--json]`: one hook call outside
 * the server. A configured NAME runs with its config, permissions, limits and budgets; a FILE runs
 * with defaults. Prints the outcome, fuel used, wall time and everything the plugin logged.
 * Exit 0 on ok (or a hook the module does not export), 1 on error / trap / out of fuel / timeout.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { closest } from 'fastest-levenshtein';
import { BextError, EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import { HOOK_NAMES, type HookName, type PluginConfig } from '../../config/types.js';
import { duration, percent, thousands } from '../../format.js';
import { loadConfig } from '../../config/index.js';
import { createPluginEngine } from '../../plugins/engine.js';
import { defaultPluginConfig, shownStack, type CallResult, type HookArgs, type MetricSample, type PluginLogEntry, type StackRow } from '../../runtime/index.js';
import { pluginLevel } from '../../log.js';

export interface RunOptions {
  config: string;
  input?: string;
  fuel?: string;
  json?: boolean;
}

const usage = (message: string, details: string[] = []): BextError => new BextError('usage', message, { exitCode: 2, details });

function parseHook(hook: string): HookName {
  if ((HOOK_NAMES as readonly string[]).includes(hook)) return hook as HookName;
  const guess = closest(hook, [...HOOK_NAMES]);
  throw usage(`unknown hook "${hook}"${guess ? `; did you mean "${guess}"?` : ''}`, [`hooks: ${HOOK_NAMES.join(', ')}`]);
}

function parseFuel(text: string): number {
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw usage(`--fuel must be a positive whole number, got "${text}"`);
  return n;
}

function readInput(input: string | undefined): unknown {
  if (input === undefined) return undefined;
  let text = input;
  let from = '--input';
  if (input.startsWith('@')) {
    const file = input.slice(1);
    from = file;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw usage(`--input ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usage(`${from} is not valid JSON: ${(err as Error).message}`);
  }
}

const SAMPLE_EVENT = {
  path: '/',
  method: 'GET',
  status: 200,
  cache_status: 'MISS',
  render_time_us: 0,
  tenant_id: null,
  site_id: null,
  encoding: 'identity',
  is_bot: false,
};

/** Builds the hook's arguments from --input (or a sensible default). */
export function hookArgs(hook: HookName, input: unknown, plugin: PluginConfig): HookArgs {
  switch (hook) {
    case 'on_server_start':
      return { hook, configJson: JSON.stringify(input === undefined ? plugin.config : input) };
    case 'on_request_complete':
      return { hook, eventJson: JSON.stringify(input === undefined ? SAMPLE_EVENT : input) };
    case 'on_cache_write': {
      const v = (input ?? { key: 'page:/', tags: [] }) as { key?: unknown; tags?: unknown };
      if (typeof v !== 'object' || v === null || typeof v.key !== 'string') {
        throw usage('on_cache_write --input must be {"key": "page:/...", "tags": ["..."]}');
      }
      const tags = v.tags ?? [];
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw usage('on_cache_write --input: "tags" must be an array of strings');
      return { hook, key: v.key, tagsJson: JSON.stringify(tags) };
    }
    case 'on_cache_invalidate': {
      const v = (input ?? { pattern: 'page:*', count: 0 }) as { pattern?: unknown; count?: unknown };
      if (typeof v !== 'object' || v === null || typeof v.pattern !== 'string') {
        throw usage('on_cache_invalidate --input must be {"pattern": "page:/blog/*", "count": N}');
      }
      const count = v.count ?? 0;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 0x7fffffff) {
        throw usage('on_cache_invalidate --input: "count" must be a whole number from 0 to 2147483647');
      }
      return { hook, pattern: v.pattern, count };
    }
    default:
      if (input !== undefined) throw usage(`${hook} takes no input; drop --input`);
      return { hook };
  }
}

function looksLikeFile(target: string): boolean {
  if (target.endsWith('.wasm') || target.includes('/') || target.includes(path.sep)) return true;
  try {
    return statSync(target).isFile();
  } catch {
    return false;
  }
}

interface Target {
  plugin: PluginConfig;
  stateDir: string;
  configFile: string | null;
}

async function resolveTarget(target: string, configFile: string): Promise<Target> {
  if (looksLikeFile(target)) {
    const plugin = defaultPluginConfig(target);
    return { plugin, stateDir: path.resolve('.bext'), configFile: null };
  }
  if (!existsSync(configFile)) {
    throw usage(`"${target}" is not a .wasm file, and there is no config file ${configFile} to look it up in`, [
      'pass a path to a .wasm file, or -c bext.config.toml with a [plugins.NAME] table',
    ]);
  }
  const cfg = loadConfig(configFile, { checkFiles: false });
  const plugin = cfg.plugins.find((p) => p.name === target);
  if (!plugin) {
    const names = cfg.plugins.map((p) => p.name);
    const guess = names.length ? closest(target, names) : undefined;
    throw usage(`no plugin named "${target}" in ${configFile}${guess ? `; did you mean "${guess}"?` : ''}`, [
      names.length ? `configured plugins: ${names.join(', ')}` : 'the config has no [plugins.*] tables',
    ]);
  }
  return { plugin, stateDir: cfg.stateDir, configFile: cfg.file };
}

function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

function render(target: string, plugin: PluginConfig, r: CallResult, logs: PluginLogEntry[], metrics: MetricSample[]): string {
  const out: string[] = [];
  const rows: [string, string][] = [
    ['plugin', plugin.name === target ? `${plugin.name} (${shown(plugin.path)})` : shown(plugin.path)],
    ['hook', r.hook],
    ['outcome', r.skipped ? `ok (skipped: the module does not export ${r.hook})` : r.outcome.replace(/_/g, ' ')],
  ];
  // A panic's message says what went wrong; the `unreachable` trap after it does not.
  if (r.panic !== undefined) rows.push(['panic', r.panic]);
  if (r.outcome === 'trap') rows.push(['trap', `${r.trapKind ?? 'trap'}${r.message && r.message !== r.trapKind ? `: ${r.message}` : ''}`]);
  else if (r.message) rows.push(['message', r.message]);
  if (!r.skipped) {
    rows.push(['fuel', `${thousands(r.fuelUsed)} of ${thousands(r.budget)} (${percent(r.fuelUsed, r.budget)})`]);
    rows.push(['time', duration(r.wallUs)]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.push(`${k.padEnd(w)}  ${v}`);
  if (r.stack?.length) {
    out.push('', 'guest stack (innermost first)');
    for (const row of stackRows(r)) {
      out.push(`  at ${row.text}`);
      if (row.source !== undefined) out.push(`       ${row.source}`);
    }
  }
  if (logs.length) {
    out.push('', `logs (${logs.length})`);
    for (const l of logs) out.push(`  ${l.level.padEnd(5)} ${l.source.padEnd(6)} ${l.msg}`);
  }
  if (metrics.length) {
    out.push('', `metrics (${metrics.length})`);
    for (const m of metrics) {
      const tags = Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',');
      out.push(`  ${m.name} ${m.value}${tags ? ` {${tags}}` : ''}`);
    }
  }
  return out.join('\n') + '\n';
}

/** The stack's lines, with source lines where the frames have them. */
function stackRows(r: CallResult): StackRow[] {
  if (!r.frames?.length) return (r.stack ?? []).map((text) => ({ text }));
  const rows = shownStack(r.frames, pluginLevel() === 'trace');
  const first = r.stack?.[0];
  if (first?.endsWith(' (host import)')) rows.unshift({ text: first });
  return rows;
}

export async function run(target: string, hookName: string, opts: RunOptions): Promise<number> {
  const hook = parseHook(hookName);
  const fuel = opts.fuel === undefined ? undefined : parseFuel(opts.fuel);
  const input = readInput(opts.input);
  const t = await resolveTarget(target, opts.config);
  const plugin: PluginConfig = fuel === undefined ? t.plugin : { ...t.plugin, fuel: { ...t.plugin.fuel, [hook]: fuel } };
  const args = hookArgs(hook, input, plugin);

  const logs: PluginLogEntry[] = [];
  const metrics: MetricSample[] = [];
  const engine = createPluginEngine({
    stateDir: t.stateDir,
    onMetric: (m) => metrics.push(m),
    logging: { logOutcomes: false, logLevel: 'trace', onLog: (e) => logs.push(e) },
  });
  const handle = await engine.start(plugin);
  let result: CallResult;
  try {
    result = await handle.call(args);
  } finally {
    await handle.close();
  }
  if (opts.json) {
    const obj = {
      ...result,
      file: plugin.path,
      fuelPercent: result.budget > 0 ? (result.fuelUsed / result.budget) * 100 : 0,
      logs: logs.map(({ level, source, msg }) => ({ level, source, msg })),
      metrics: metrics.map(({ name, value, tags }) => ({ name, value, tags })),
    };
    process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
  } else {
    process.stdout.write(render(target, plugin, result, logs, metrics));
  }
  return result.outcome === 'ok' ? EXIT_OK : EXIT_RUNTIME;
}
