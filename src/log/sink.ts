/**
 * Where log lines go: one buffered, asynchronous writer on stderr (pino's SonicBoom with
 * `sync: false`), so a burst of lines costs the main thread a string append, not a blocking
 * write per line. The buffer is bounded: past `maxBytes` lines are dropped and counted, and the
 * count is written as one notice once the writer catches up. A terminal status line (`bext dev`'s
 * loading progress) goes through the same writer and is cleared before the next log line.
 */

/** The part of SonicBoom the sink uses. */
export interface Destination {
  write(data: string): boolean;
  flushSync(): void;
  on(event: 'drop', listener: (data: unknown) => void): unknown;
}

export interface Sink {
  /** A complete line (with its newline). */
  write(line: string): void;
  /** Shows (or, with null, clears) a one-line status at the cursor; the next log line clears it. */
  status(text: string | null): void;
  /** Writes out everything buffered, blocking (exit paths). */
  flushSync(): void;
}

const CLEAR_LINE = '\r\x1b[2K';
/** Shortest gap between two "lines dropped" notices. */
const NOTICE_EVERY_MS = 1_000;

export function createSink(dest: Destination, notice: (dropped: number) => string, now: () => number = Date.now): Sink {
  let dropped = 0;
  let noticedAt = -Infinity;
  let showing = false;
  dest.on('drop', () => {
    dropped++;
  });

  const noticeDue = (): void => {
    if (dropped === 0 || now() - noticedAt < NOTICE_EVERY_MS) return;
    const count = dropped;
    dropped = 0;
    noticedAt = now();
    dest.write(notice(count));
    // The notice itself was dropped (still no room): it is counted with the rest for next time.
    if (dropped > 0) dropped += count - 1;
  };

  return {
    write(line) {
      noticeDue();
      if (showing) {
        showing = false;
        dest.write(CLEAR_LINE + line);
      } else {
        dest.write(line);
      }
    },
    status(text) {
      if (text === null || text === '') {
        if (showing) dest.write(CLEAR_LINE);
        showing = false;
        return;
      }
      showing = true;
      dest.write(CLEAR_LINE + text);
    },
    flushSync() {
      noticeDue();
      try {
        dest.flushSync();
      } catch {
        // Nothing useful to do when stderr is gone.
      }
    },
  };
}
