/**
 * `bext plugin profile FILE|NAME HOOK [--input JSON|@file] [--calls N] [--fuel N] [-o FILE]
 * [--top N] [--json]`: runs the hook under the plugin's profiling build (docs/fuel.md) and shows
 * where its fuel went, per function, exactly: self and inclusive fuel and calls, with the same
 * cost rules as the budget, so the column of self fuel adds up to the fuel the calls used. Writes
 * a flame graph: speedscope JSON and folded stacks (both by default, under `.bext/profiles/`;
 * with -o, the one format its name asks for). `bext plugin run --profile` prints the same table.
 * Exit 0 when every call ended ok, 1 when one did not (its partial profile is still written).
 */
import path from 'node:path';
import { BextError, EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import type { HookName, PluginConfig } from '../../config/types.js';
import { percent, thousands } from '../../format.js';
import { createPluginEngine } from '../../plugins/engine.js';
import { bextVersion, profileStem, writeAtomic, writeProfileFiles } from '../../plugins/profiles.js';
import { functionTable, mergeProfiles, profileTotal, toFolded, toSpeedscope, type CallProfile, type CallResult, type PluginLogEntry } from '../../runtime/index.js';
import { prepareHookCall, shown } from './hook-call.js';

export interface ProfileOptions {
  config?: string;
  input?: string;
  fuel?: string;
  calls?: string;
  output?: string;
  top?: string;
  json?: boolean;
}

const DEFAULT_TOP = 20;
/** Longest function name shown in the table (Rust and C++ names can run to hundreds of characters). */
const NAME_WIDTH = 60;

const usage = (message: string): BextError => new BextError('usage', message);

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw usage(`${flag} must be a positive whole number, got "${text}"`);
  return n;
}

function cut(name: string): string {
  return name.length <= NAME_WIDTH ? name : `${name.slice(0, NAME_WIDTH - 1)}…`;
}

/** The top functions by self fuel, with a line for the rest and the total. */
export function renderProfileTable(profile: CallProfile, top: number): string {
  const rows = functionTable(profile);
  const total = profileTotal(profile);
  const shownRows = rows.slice(0, top);
  const head = ['function', 'self fuel', 'self %', 'inclusive', 'incl %', 'calls'];
  const cells = shownRows.map((r) => [
    cut(r.name),
    thousands(r.self),
    percent(r.self, total),
    thousands(r.inclusive),
    percent(r.inclusive, total),
    thousands(r.calls),
  ]);
  const rest = rows.slice(top);
  if (rest.length > 0) {
    const fuel = rest.reduce((a, r) => a + r.self, 0);
    cells.push([`(${rest.length} more functions)`, thousands(fuel), percent(fuel, total), '', '', '']);
  }
  cells.push(['total', thousands(total), percent(total, total), '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n') + '\n';
}

/**
 * Writes the profile: with `output`, one file in the format its name asks for (`.folded`/`.txt`:
 * folded stacks, else speedscope JSON); without, both under `<stateDir>/profiles/`.
 */
export function writeProfile(profile: CallProfile, plugin: PluginConfig, hook: HookName, stateDir: string, output?: string): string[] {
  const title = `${plugin.name} ${hook}${profile.hookCalls > 1 ? ` (${profile.hookCalls} calls)` : ''}`;
  if (output !== undefined) {
    const file = path.resolve(output);
    const folded = /\.(folded|txt)$/i.test(file);
    try {
      writeAtomic(file, folded ? toFolded(profile) : JSON.stringify(toSpeedscope(profile, title, bextVersion())) + '\n');
    } catch (err) {
      throw new BextError('write_failed', `cannot write ${output}: ${(err as Error).message}`);
    }
    return [file];
  }
  const files = writeProfileFiles(profile, path.join(stateDir, 'profiles', profileStem(plugin.name, hook)), title);
  return [files.speedscope, files.folded];
}

export function filesNote(files: string[]): string {
  return files
    .map((f) => `wrote ${shown(f)}${f.endsWith('.folded') || f.endsWith('.txt') ? '  (flamegraph.pl, inferno-flamegraph)' : '  (open in https://www.speedscope.app)'}`)
    .join('\n') + '\n';
}

function outcomeText(r: CallResult): string {
  if (r.outcome === 'trap') return `trap (${r.trapKind ?? 'trap'}${r.message && r.message !== r.trapKind ? `: ${r.message}` : ''})`;
  return r.message ? `${r.outcome.replace(/_/g, ' ')}: ${r.message}` : r.outcome.replace(/_/g, ' ');
}

export async function run(target: string, hookName: string, opts: ProfileOptions): Promise<number> {
  const calls = positive('--calls', opts.calls, 1);
  const top = positive('--top', opts.top, DEFAULT_TOP);
  const t = await prepareHookCall(target, hookName, opts);
  const { hook, plugin, args } = t;

  const logs: PluginLogEntry[] = [];
  const engine = createPluginEngine({
    stateDir: t.stateDir,
    logging: { logOutcomes: false, logLevel: 'warn', onLog: (e) => logs.push(e) },
    profile: () => ({ hook, calls }),
  });
  const handle = await engine.start(plugin);
  const results: CallResult[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const r = await handle.call(args);
      results.push(r);
      if (r.skipped) break;
      // The worker was replaced: later calls would not continue the same instance's work.
      if (r.outcome === 'timeout' || r.outcome === 'crashed') break;
    }
  } finally {
    await handle.close();
  }
  if (results[0]?.skipped) throw usage(`${shown(plugin.path)} does not export ${hook}: nothing to profile`);

  const profiles = results.flatMap((r) => (r.profile ? [r.profile] : []));
  const profile = mergeProfiles(profiles);
  const files = profiles.length > 0 ? writeProfile(profile, plugin, hook, t.stateDir, opts.output) : [];
  const used = results.reduce((a, r) => a + r.fuelUsed, 0);
  const failed = results.filter((r) => r.outcome !== 'ok');

  if (opts.json) {
    const total = profileTotal(profile);
    const obj = {
      plugin: plugin.name,
      file: plugin.path,
      hook,
      calls: results.map((r) => ({
        outcome: r.outcome,
        fuelUsed: r.fuelUsed,
        budget: r.budget,
        wallUs: r.wallUs,
        ...(r.message ? { message: r.message } : {}),
      })),
      fuelUsed: used,
      profileTotal: total,
      partial: profile.partial,
      functions: functionRows(profile),
      stacks: toFolded(profile).split('\n').filter((l) => l !== ''),
      files,
      logs: logs.map(({ level, source, msg }) => ({ level, source, msg })),
    };
    process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
    return failed.length === 0 ? EXIT_OK : EXIT_RUNTIME;
  }

  const out: string[] = [];
  const rows: [string, string][] = [
    ['plugin', plugin.name === target ? `${plugin.name} (${shown(plugin.path)})` : shown(plugin.path)],
    ['hook', hook],
    [results.length === 1 ? 'outcome' : 'calls', results.length === 1 ? outcomeText(results[0]!) : `${results.length} (${results.length - failed.length} ok${failed.length ? `, ${failed.length} not: ${outcomeText(failed[0]!)}` : ''})`],
    ['fuel', `${thousands(used)}${results.length > 1 ? ` in ${results.length} calls, ${thousands(used / results.length)} per call` : ''} of ${thousands(results[0]!.budget)} per call`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.push(`${k.padEnd(w)}  ${v}`);
  out.push('');
  process.stdout.write(out.join('\n') + '\n');
  process.stdout.write(profileSection(profile, used, top));
  if (logs.length) process.stdout.write(`\n${logs.length} plugin log line(s) at warn or above; \`bext plugin run\` shows them\n`);
  process.stdout.write('\n' + filesNote(files));
  return failed.length === 0 ? EXIT_OK : EXIT_RUNTIME;
}

export const profileTotalOf = profileTotal;

/** The per-function rows as `--json` prints them. */
export function functionRows(profile: CallProfile): (ReturnType<typeof functionTable>[number] & { selfPercent: number })[] {
  const total = profileTotal(profile);
  return functionTable(profile).map((r) => ({ ...r, selfPercent: total > 0 ? (r.self / total) * 100 : 0 }));
}

/** The table, and a note when the profile does not end where a normal call would report. */
export function profileSection(profile: CallProfile, fuelUsed: number, top: number): string {
  let text = renderProfileTable(profile, top);
  const total = profileTotal(profile);
  if (profile.partial) text += 'partial: a call trapped or ran out of fuel; its open frames end where the trap left bext_fuel\n';
  if (total !== fuelUsed) {
    text += `the profile counts ${thousands(total)} fuel, the calls report ${thousands(fuelUsed)}: out of fuel is reported as the whole budget, while the profile counts up to the failing check\n`;
  }
  return text;
}
