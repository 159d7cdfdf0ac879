/**
 * A stats recorder opened later than it is handed out. Opening stats (checking and migrating
 * stats.db, loading SQLite, reading the totals) is work the first response does not need, so the
 * dev server starts answering first and opens stats right after. Calls recorded before then
 * (the plugins' on_server_start) are kept in order and applied when it opens; anything that reads
 * stats opens it first, and so do flush() and close() when something was recorded.
 */
import type { HookName } from '../config/types.js';
import type { CallResult, CallTally } from '../runtime/types.js';
import type { QueueShedding, SnapshotOptions, StatsRecorder, StatsSnapshot } from './types.js';

export interface DeferredStats extends StatsRecorder {
  /** Opens the recorder now (idempotent) and applies what was recorded before. */
  open(): StatsRecorder;
}

export function openStatsLater(open: () => StatsRecorder): DeferredStats {
  let real: StatsRecorder | null = null;
  let early: ((r: StatsRecorder) => void)[] = [];

  function opened(): StatsRecorder {
    if (real === null) {
      real = open();
      const queued = early;
      early = [];
      for (const apply of queued) apply(real);
    }
    return real;
  }

  /** Whether there is anything to write: a recorder never opened and never written to has none. */
  const idle = (): boolean => real === null && early.length === 0;

  /** Records into the open recorder, or keeps the write for when it opens. */
  function write(apply: (r: StatsRecorder) => void): void {
    if (real !== null) apply(real);
    else early.push(apply);
  }

  return {
    open: opened,
    // Every plugin call lands here: once open, no closure per call.
    record: (result: CallResult) => (real !== null ? real.record(result) : write((r) => r.record(result))),
    recordTally: (tally: CallTally) => (real !== null ? real.recordTally(tally) : write((r) => r.recordTally(tally))),
    recordDropped: (plugin: string, hook: HookName, n?: number) => write((r) => r.recordDropped(plugin, hook, n)),
    recordShedding: (plugin: string, s: QueueShedding) => write((r) => r.recordShedding(plugin, s)),
    recordFetchRefused: (plugin: string, url: string, reason: string) => write((r) => r.recordFetchRefused(plugin, url, reason)),
    snapshot: (plugin?: string, opts?: SnapshotOptions): StatsSnapshot => opened().snapshot(plugin, opts),
    plugins: () => opened().plugins(),
    warm: () => opened().warm(),
    reset: (plugin?: string) => opened().reset(plugin),
    flush() {
      if (!idle()) opened().flush();
    },
    close() {
      // A server that stops before stats opened (it could not listen) has nothing to persist.
      if (!idle()) opened().close();
    },
  };
}
