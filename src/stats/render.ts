/**
 * Human output of `bext plugin stats`: one table per hook for a plugin, or one summary row per
 * (plugin, hook) for all plugins. Numbers use thousands separators, fuel also as a share of the
 * budget (marked ⚠ above WARN_PCT), times in µs/ms/s.
 */
import { duration, thousands } from '../format.js';
import { OUTCOMES } from '../runtime/types.js';
import type { HookStats, PluginStats, StatsSnapshot } from './types.js';

/** Above this share of the budget a hook is one input away from running out of fuel. */
export const WARN_PCT = 80;
export const WARN_MARK = '⚠';

/**
 * Pads cells into aligned columns. `left` = how many leading columns are left-aligned (text);
 * the rest are right-aligned (numbers).
 */
export function table(rows: string[][], indent = '', left = 1): string[] {
  const widths: number[] = [];
  const len = (c: string): number => [...c].length;
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, len(c))));
  const pad = (c: string, i: number): string => {
    const fill = ' '.repeat(widths[i]! - len(c));
    return i < left ? c + fill : fill + c;
  };
  return rows.map((r) => (indent + r.map(pad).join('  ')).trimEnd());
}

function pct(value: number): number {
  return Math.round(value * 10) / 10;
}

/** "12.3%" with the warning mark when above WARN_PCT. */
export function budgetShare(p: number): string {
  // A tiny but non-zero share reads "<0.1%", so it is not mistaken for no fuel at all.
  const s = p > 0 && p < 0.05 ? '<0.1%' : `${pct(p).toFixed(1)}%`;
  return p > WARN_PCT ? `${s} ${WARN_MARK}` : s;
}

function shareOf(fuel: number, budget: number): number {
  return budget > 0 ? (fuel / budget) * 100 : 0;
}

function outcomeLine(h: { outcomes: HookStats['outcomes']; dropped: number }): string {
  const parts = OUTCOMES.map((o) => `${o} ${thousands(h.outcomes[o])}`);
  parts.push(`dropped ${thousands(h.dropped)}`);
  return parts.join('   ');
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function renderHook(h: HookStats): string[] {
  const lines: string[] = [];
  const budget = h.fuel.budget;
  lines.push(`${h.hook}  (budget ${thousands(budget)} fuel)`);
  lines.push(`  calls ${thousands(h.calls)}   ${outcomeLine(h)}`);
  if (h.calls === 0) return lines;
  const f = h.fuel;
  const t = h.timeUs;
  lines.push(
    ...table(
      [
        ['', 'avg', 'p50', 'p99', 'max'],
        ['fuel', thousands(f.avg), thousands(f.p50), thousands(f.p99), thousands(f.max)],
        [
          '% of budget',
          budgetShare(shareOf(f.avg, budget)),
          budgetShare(shareOf(f.p50, budget)),
          budgetShare(shareOf(f.p99, budget)),
          // The max share is tracked per call, so it stays right when the budget changed over time.
          budgetShare(f.maxPctOfBudget),
        ],
        ['time', duration(t.avg), duration(t.p50), duration(t.p99), duration(t.max)],
      ],
      '  ',
    ),
  );
  lines.push(`  first ${when(h.firstAt)}   last ${when(h.lastAt)}`);
  const lf = h.lastFailure;
  if (lf) {
    const what = lf.trapKind && !lf.message.includes(lf.trapKind) ? `${lf.outcome} (${lf.trapKind})` : lf.outcome;
    lines.push(`  last failure ${when(lf.at)}  ${what}: ${lf.message.split('\n')[0] || '(no message)'}`);
    for (const frame of lf.stack ?? []) lines.push(`    at ${frame}`);
  }
  return lines;
}

/** Advice lines for hooks close to their budget or failing. */
export function warnings(p: PluginStats): string[] {
  const out: string[] = [];
  for (const h of p.hooks) {
    if (h.fuel.maxPctOfBudget > WARN_PCT) {
      out.push(
        `${WARN_MARK} ${h.hook}: a call used ${pct(h.fuel.maxPctOfBudget).toFixed(1)}% of its fuel budget; ` +
          `raise [plugins.${p.plugin}.fuel] ${h.hook} or make the hook cheaper`,
      );
    }
    if (h.outcomes.out_of_fuel > 0) {
      out.push(`${WARN_MARK} ${h.hook}: ${thousands(h.outcomes.out_of_fuel)} call(s) ran out of fuel`);
    }
    if (h.dropped > 0) {
      out.push(`${WARN_MARK} ${h.hook}: ${thousands(h.dropped)} event(s) dropped because the plugin's queue was full`);
    }
  }
  return out;
}

export function renderPlugin(p: PluginStats, sourceLine: string): string {
  const failed = p.calls - p.outcomes.ok;
  const lines: string[] = [
    `${p.plugin}: ${thousands(p.calls)} calls, ${thousands(p.outcomes.ok)} ok, ${thousands(failed)} failed, ${thousands(p.dropped)} dropped`,
    sourceLine,
  ];
  for (const h of p.hooks) lines.push('', ...renderHook(h));
  if (p.fetchRefused.count > 0) {
    lines.push('', `refused fetches: ${thousands(p.fetchRefused.count)}`);
    const counts = p.fetchRefused.top.map((r) => `${thousands(r.count)}×`);
    const w = Math.max(...counts.map((c) => c.length));
    p.fetchRefused.top.forEach((r, i) => lines.push(`  ${counts[i]!.padStart(w)}  ${r.url}  (${r.reason})`));
  }
  const warn = warnings(p);
  if (warn.length) lines.push('', ...warn);
  return lines.join('\n') + '\n';
}

/** One row per (plugin, hook), for `bext plugin stats` without a name. */
export function renderSummary(snap: StatsSnapshot, sourceLine: string, idle: string[]): string {
  const rows: string[][] = [
    ['PLUGIN', 'HOOK', 'CALLS', 'OK', 'FAILED', 'DROPPED', 'FUEL AVG', 'FUEL P99', 'FUEL MAX', 'MAX/BUDGET', 'TIME P99'],
  ];
  for (const p of Object.values(snap.plugins)) {
    for (const h of p.hooks) {
      rows.push([
        p.plugin,
        h.hook,
        thousands(h.calls),
        thousands(h.outcomes.ok),
        thousands(h.calls - h.outcomes.ok),
        thousands(h.dropped),
        thousands(h.fuel.avg),
        thousands(h.fuel.p99),
        thousands(h.fuel.max),
        h.calls > 0 ? budgetShare(h.fuel.maxPctOfBudget) : '-',
        h.calls > 0 ? duration(h.timeUs.p99) : '-',
      ]);
    }
  }
  const lines = [sourceLine, ''];
  if (rows.length === 1) lines.push('no calls recorded yet');
  else lines.push(...table(rows, '', 2), '', 'details per hook: bext plugin stats NAME');
  if (idle.length) lines.push(`configured, no calls recorded: ${idle.join(', ')}`);
  return lines.join('\n') + '\n';
}
