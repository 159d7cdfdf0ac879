/**
 * What a plugin says, on its way from its worker to the main thread. A guest can call `log` (or
 * `fd_write`, or make the host warn) thousands of times per call; none of that may reach the
 * main thread one message at a time or without limit, or the server slows down with it. So, in
 * the worker, before anything is posted:
 *
 * - lines below the plugin log level are dropped (they cost nothing further);
 * - host notes about the guest (a dropped metric sample...) are written once per cause, repeats
 *   counted (src/log/cause-log.ts);
 * - a per-plugin rate limit admits a burst and then a steady rate; the rest is counted and
 *   reported as one "N log lines suppressed" line (src/log/line-limit.ts);
 * - admitted lines wait in a bounded batch, posted as one message at the end of the call (before
 *   its result) or on the next tick outside calls.
 */
import { performance } from 'node:perf_hooks';
import { createCauseLog, repeatsSuffix } from '../log/cause-log.js';
import { createLineLimiter, PLUGIN_LINE_LIMITS, suppressedMessage, type LineLimits } from '../log/line-limit.js';
import type { LogEntry, LogLevel } from './messages.js';

export const LEVEL_ORDER: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };
/** A longer message is cut (with a note of how much); a guest cannot post megabytes per line. */
export const MAX_LOG_MESSAGE = 256 * 1024;
/** Characters of messages one batch may hold; lines past it are counted as suppressed. */
const MAX_BATCH_CHARS = 1024 * 1024;
/** How long a host note's cause stays quiet after it was written. */
const CAUSE_WINDOW_MS = 10_000;
const MAX_CAUSES = 256;

export interface LogBatcher {
  add(level: LogLevel, msg: string, source: LogEntry['source'], extra?: Record<string, unknown>): void;
  /** Posts what is pending (end of a call, or before any other message). */
  flush(): void;
  /** Reports every pending count and posts (the worker is closing). */
  close(): void;
  /** Changes the lowest level worth posting. */
  setLevel(level: string): void;
}

export interface LogBatcherOptions {
  post(entries: LogEntry[]): void;
  level?: string;
  limits?: LineLimits;
  now?: () => number;
}

function clip(msg: string): string {
  if (msg.length <= MAX_LOG_MESSAGE) return msg;
  return `${msg.slice(0, MAX_LOG_MESSAGE)} … (${(msg.length - MAX_LOG_MESSAGE).toLocaleString('en-US')} more characters)`;
}

export function createLogBatcher(opts: LogBatcherOptions): LogBatcher {
  const now = opts.now ?? (() => performance.now());
  const limits = opts.limits ?? PLUGIN_LINE_LIMITS;
  const limiter = createLineLimiter(limits, now());
  let minLevel = LEVEL_ORDER[opts.level ?? 'warn'] ?? LEVEL_ORDER.warn!;
  let pending: LogEntry[] = [];
  let pendingChars = 0;
  let scheduled = false;
  let summaryTimer: ReturnType<typeof setTimeout> | null = null;

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  };

  const admit = (entry: LogEntry): void => {
    const t = now();
    if (pendingChars + entry.msg.length > MAX_BATCH_CHARS) limiter.refuse(t);
    else if (limiter.admit(t)) {
      pending.push(entry);
      pendingChars += entry.msg.length;
      schedule();
      return;
    }
    // Something was counted: make sure the count is reported even if the plugin falls silent.
    if (!summaryTimer) {
      summaryTimer = setTimeout(() => {
        summaryTimer = null;
        flush();
      }, limits.summaryEveryMs);
      summaryTimer.unref?.();
    }
  };

  const causes = createCauseLog<LogEntry>(
    (e, repeats, overMs) => admit(repeats === 0 ? e : { ...e, msg: e.msg + repeatsSuffix(repeats, overMs), extra: { ...e.extra, repeated: repeats } }),
    { windowMs: CAUSE_WINDOW_MS, maxCauses: MAX_CAUSES, now },
  );

  function report(force: boolean): void {
    causes.flush(force);
    const s = limiter.summary(now(), force);
    if (s === null) return;
    // Reported at a level the plugin's log level lets through.
    const level: LogLevel = minLevel > LEVEL_ORDER.warn! ? 'error' : 'warn';
    pending.push({ level, source: 'host', msg: suppressedMessage(s, limits), extra: { suppressed: s.count } });
  }

  function send(): void {
    if (pending.length === 0) return;
    const entries = pending;
    pending = [];
    pendingChars = 0;
    opts.post(entries);
  }

  function flush(): void {
    report(false);
    send();
  }

  return {
    add(level, msg, source, extra) {
      if ((LEVEL_ORDER[level] ?? 30) < minLevel) return;
      const entry: LogEntry = { level, source, msg: clip(msg), ...(extra ? { extra } : {}) };
      if (source === 'host') causes.note(`${level}\u0000${entry.msg}`, entry);
      else admit(entry);
    },
    flush,
    close() {
      if (summaryTimer) clearTimeout(summaryTimer);
      summaryTimer = null;
      report(true);
      send();
    },
    setLevel(level) {
      minLevel = LEVEL_ORDER[level] ?? LEVEL_ORDER.warn!;
    },
  };
}
