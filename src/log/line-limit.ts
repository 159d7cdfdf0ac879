/**
 * A per-plugin rate limit on log lines: a token bucket (a burst, then a steady rate), and a count
 * of what it turned away. The count is reported as one summary line: first at the end of the call
 * in which lines began to be dropped (so a single `bext plugin run` shows it), then at most once
 * per `summaryEveryMs` while the plugin keeps talking. Pure: the caller passes the clock.
 */

export interface LineLimits {
  /** Lines a plugin may write at once after a quiet spell. */
  burst: number;
  /** Lines per second it may write steadily. */
  perSecond: number;
  /** Shortest gap between two "N lines suppressed" summaries. */
  summaryEveryMs: number;
}

/** Documented in docs/permissions.md ("Log limits"). */
export const PLUGIN_LINE_LIMITS: Readonly<LineLimits> = Object.freeze({ burst: 500, perSecond: 100, summaryEveryMs: 5_000 });

export interface Suppressed {
  count: number;
  /** Milliseconds between the first suppressed line and now. */
  overMs: number;
}

export interface LineLimiter {
  /** True when the line may be written; false when it is counted instead. */
  admit(now: number): boolean;
  /** Counts a line turned away for another reason (no room left in the batch). */
  refuse(now: number): void;
  /**
   * The count to report now, or null. `force` reports whatever is pending (the worker is closing).
   */
  summary(now: number, force?: boolean): Suppressed | null;
}

export function createLineLimiter(limits: LineLimits, start: number): LineLimiter {
  let tokens = limits.burst;
  let refilledAt = start;
  let suppressed = 0;
  let firstAt = 0;
  let reportedAt = -Infinity;
  return {
    admit(now) {
      tokens = Math.min(limits.burst, tokens + ((now - refilledAt) / 1000) * limits.perSecond);
      refilledAt = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      this.refuse(now);
      return false;
    },
    refuse(now) {
      if (suppressed === 0) firstAt = now;
      suppressed++;
    },
    summary(now, force = false) {
      if (suppressed === 0) return null;
      if (!force && now - reportedAt < limits.summaryEveryMs) return null;
      const out = { count: suppressed, overMs: now - firstAt };
      suppressed = 0;
      reportedAt = now;
      return out;
    },
  };
}

/** "1,234 log lines suppressed in 2.1 s (limit: 500 at once, then 100 a second)". */
export function suppressedMessage(s: Suppressed, limits: LineLimits): string {
  const lines = s.count === 1 ? 'log line' : 'log lines';
  const over = s.overMs >= 1000 ? ` in ${(s.overMs / 1000).toFixed(1)} s` : '';
  return `${s.count.toLocaleString('en-US')} ${lines} suppressed${over} (limit: ${limits.burst.toLocaleString('en-US')} at once, then ${limits.perSecond.toLocaleString('en-US')} a second)`;
}
