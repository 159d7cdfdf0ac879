/** What goes into the live stream: plugin history changes, and the log lines bext writes. */
import { tallyCalls } from '../runtime/tally.js';
import type { HistoryListener } from './plugin-history.js';
import type { LiveFeed } from './live-feed.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const MAX_LOG_MESSAGE = 2000;

export function historyEvents(feed: LiveFeed): HistoryListener {
  return {
    onLoad(plugin, version, previous) {
      feed.publish('load', { plugin, hash: version.hash, loadedAt: version.loadedAt, same: previous === version });
    },
    onLoadFailed(plugin, error, serving) {
      feed.publish('load_failed', { plugin, error, stillServing: serving?.hash ?? null });
    },
    onCall(r, version) {
      // Failures go out as their own event (always sent, with the message).
      if (r.outcome !== 'ok') return;
      // At a load test's rate nearly all are over the allowance: made only when one goes out.
      feed.publishCall(() => ({
        plugin: r.plugin,
        hook: r.hook,
        outcome: r.outcome,
        fuelUsed: r.fuelUsed,
        budget: r.budget,
        wallUs: r.wallUs,
        version: version.hash,
      }));
    },
    onTally(t, version) {
      // Made in order, only while the allowance lasts (see publishCalls).
      const calls = tallyCalls(t);
      feed.publishCalls(t.count, () => {
        const c = calls.next().value!;
        return { plugin: t.plugin, hook: t.hook, outcome: 'ok', fuelUsed: c.fuelUsed, budget: t.budget, wallUs: c.wallUs, version: version.hash };
      });
    },
    onFailure(f) {
      feed.publish('failure', { ...f, stack: f.stack.slice(0, 8) });
    },
  };
}

/** A tap for log.ts: each JSON line pino wrote becomes a `log` event (plugin "bext" for bext's own). */
export function logEvents(feed: LiveFeed): (line: string) => void {
  return (line) => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = typeof rec.level === 'number' ? (LEVEL_NAMES[rec.level] ?? String(rec.level)) : String(rec.level ?? 'info');
    const msg = String(rec.msg ?? '').slice(0, MAX_LOG_MESSAGE);
    const data: Record<string, unknown> = { plugin: typeof rec.plugin === 'string' ? rec.plugin : 'bext', level, msg };
    if (typeof rec.source === 'string') data.source = rec.source;
    if (typeof rec.hook === 'string') data.hook = rec.hook;
    feed.publish('log', data);
  };
}
