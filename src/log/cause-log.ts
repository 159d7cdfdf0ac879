/**
 * One warning per cause. The first occurrence of a cause is written at once; the ones after it
 * within `windowMs` are only counted, and the count goes out as one line with the latest
 * occurrence ("… (×999 in 10.0 s)"). Used where a guest can make the host repeat itself in a loop:
 * refused fetches, dropped metric samples, the same failure on every call.
 *
 * A pending count is written by `flush()`: the first time for a cause whenever it is called (the
 * worker calls it at the end of every hook call), after that at most once per window; a timer
 * flushes what a quiet spell leaves behind. Memory is bounded by `maxCauses`.
 */

export interface CauseLogOptions {
  windowMs: number;
  maxCauses: number;
  now: () => number;
  /** Flush pending counts `windowMs` after they start (an unref'd timer). Default true. */
  timer?: boolean;
}

export interface CauseLog<T> {
  /** Writes the occurrence when its cause is new or quiet, else counts it. */
  note(key: string, occurrence: T): void;
  /** Writes the pending counts that are due; `force` writes all of them (closing, exiting). */
  flush(force?: boolean): void;
}

interface Cause<T> {
  latest: T;
  repeats: number;
  firstRepeatAt: number;
  writtenAt: number;
  summarized: boolean;
}

/** `write(occurrence, repeats, overMs)`: repeats is 0 for a first occurrence. */
export function createCauseLog<T>(write: (occurrence: T, repeats: number, overMs: number) => void, opts: CauseLogOptions): CauseLog<T> {
  const causes = new Map<string, Cause<T>>();
  let timer: ReturnType<typeof setTimeout> | null = null;

  const emit = (c: Cause<T>, now: number): void => {
    const n = c.repeats;
    c.repeats = 0;
    c.writtenAt = now;
    c.summarized = true;
    write(c.latest, n, now - c.firstRepeatAt);
  };

  const arm = (): void => {
    if (opts.timer === false || timer) return;
    timer = setTimeout(() => {
      timer = null;
      flush();
    }, opts.windowMs);
    timer.unref?.();
  };

  function flush(force = false): void {
    const now = opts.now();
    let pending = false;
    for (const [key, c] of causes) {
      if (c.repeats > 0 && (force || !c.summarized || now - c.writtenAt >= opts.windowMs)) emit(c, now);
      if (c.repeats > 0) pending = true;
      else if (now - c.writtenAt >= opts.windowMs) causes.delete(key);
    }
    if (pending) arm();
  }

  return {
    note(key, occurrence) {
      const now = opts.now();
      const c = causes.get(key);
      if (c && (c.repeats > 0 || now - c.writtenAt < opts.windowMs)) {
        if (c.repeats === 0) c.firstRepeatAt = now;
        c.repeats++;
        c.latest = occurrence;
        arm();
        return;
      }
      if (!c && causes.size >= opts.maxCauses) {
        // The oldest cause makes room; its pending count is written first, never lost.
        const [oldKey, old] = causes.entries().next().value as [string, Cause<T>];
        if (old.repeats > 0) emit(old, now);
        causes.delete(oldKey);
      }
      causes.delete(key);
      causes.set(key, { latest: occurrence, repeats: 0, firstRepeatAt: now, writtenAt: now, summarized: false });
      write(occurrence, 0, 0);
    },
    flush,
  };
}

/** " (×999 in 10.0 s)" — the suffix a summary line adds to the cause's message. */
export function repeatsSuffix(repeats: number, overMs: number): string {
  if (repeats === 0) return '';
  const over = overMs >= 1000 ? ` in ${(overMs / 1000).toFixed(1)} s` : '';
  return ` (×${repeats.toLocaleString('en-US')} more${over})`;
}
