/**
 * `bext plugin run FILE|NAME HOOK [--input JSON|@file] [--fuel N] [--json]`: one hook call outside
 * the server. A configured NAME runs with its config, permissions, limits and budgets; a FILE runs
 * with defaults. Prints the outcome, fuel used, wall time and everything the plugin logged.
 * Exit 0 on ok (or a hook the module does not export), 1 on error / trap / out of fuel / timeout.
 */
import { EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import type { PluginConfig } from '../../config/types.js';
import { duration, percent, thousands } from '../../format.js';
import { createPluginEngine } from '../../plugins/engine.js';
import { shownStack, type CallResult, type MetricSample, type PluginLogEntry, type StackRow } from '../../runtime/index.js';
import { pluginLevel } from '../../log.js';
import { escapeControl } from '../../log/pretty.js';

export interface RunOptions {
  config?: string;
  input?: string;
  fuel?: string;
  json?: boolean;
  /** Run the profiling build and show where the fuel went (see profile.ts). */
  profile?: boolean;
}
import { prepareHookCall, shown } from './hook-call.js';

function render(target: string, plugin: PluginConfig, r: CallResult, logs: PluginLogEntry[], metrics: MetricSample[]): string {
  const out: string[] = [];
  const rows: [string, string][] = [
    ['plugin', plugin.name === target ? `${plugin.name} (${shown(plugin.path)})` : shown(plugin.path)],
    ['hook', r.hook],
    ['outcome', r.skipped ? `ok (skipped: the module does not export ${r.hook})` : r.outcome.replace(/_/g, ' ')],
  ];
  // A panic's message says what went wrong; the `unreachable` trap after it does not.
  if (r.panic !== undefined) rows.push(['panic', escapeControl(r.panic)]);
  if (r.outcome === 'trap') rows.push(['trap', `${r.trapKind ?? 'trap'}${r.message && r.message !== r.trapKind ? `: ${escapeControl(r.message)}` : ''}`]);
  else if (r.message) rows.push(['message', escapeControl(r.message)]);
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
    // Guest text, shown escaped: a NUL or an escape sequence must not reach the terminal raw.
    for (const l of logs) out.push(`  ${l.level.padEnd(5)} ${l.source.padEnd(6)} ${escapeControl(l.msg)}`);
  }
  if (metrics.length) {
    out.push('', `metrics (${metrics.length})`);
    for (const m of metrics) {
      const tags = Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(',');
      out.push(escapeControl(`  ${m.name} ${m.value}${tags ? ` {${tags}}` : ''}`));
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
  const t = await prepareHookCall(target, hookName, opts);
  const { hook, plugin, args } = t;

  const logs: PluginLogEntry[] = [];
  const metrics: MetricSample[] = [];
  const engine = createPluginEngine({
    stateDir: t.stateDir,
    onMetric: (m) => metrics.push(m),
    logging: { logOutcomes: false, logLevel: 'trace', onLog: (e) => logs.push(e) },
    ...(opts.profile ? { profile: () => ({ hook, calls: 1 }) } : {}),
  });
  const handle = await engine.start(plugin);
  let result: CallResult;
  try {
    result = await handle.call(args);
  } finally {
    await handle.close();
  }
  const profiled = result.profile ? await import('./profile.js') : undefined;
  const files = profiled && result.profile ? profiled.writeProfile(result.profile, plugin, hook, t.stateDir) : [];
  if (opts.json) {
    const { profile, ...rest } = result;
    const obj = {
      ...rest,
      ...(profile && profiled
        ? { profile: { total: profiled.profileTotalOf(profile), partial: profile.partial, functions: profiled.functionRows(profile), files } }
        : {}),
      file: plugin.path,
      fuelPercent: result.budget > 0 ? (result.fuelUsed / result.budget) * 100 : 0,
      logs: logs.map(({ level, source, msg }) => ({ level, source, msg })),
      metrics: metrics.map(({ name, value, tags }) => ({ name, value, tags })),
    };
    process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
  } else {
    process.stdout.write(render(target, plugin, result, logs, metrics));
    if (profiled && result.profile) {
      process.stdout.write(`\nfuel profile\n${profiled.profileSection(result.profile, result.fuelUsed, 20)}\n${profiled.filesNote(files)}`);
    }
  }
  return result.outcome === 'ok' ? EXIT_OK : EXIT_RUNTIME;
}
