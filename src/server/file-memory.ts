/**
 * The bytes of small static files, kept between requests so an unchanged file is not read again.
 * Every use is checked against a stat taken for that request: the bytes are used only when the
 * file is still the same inode with the same size, mtime and ctime as when they were read.
 *
 * Why that is enough: any write, truncate, rename over or chmod of the file sets its ctime (and a
 * content change its mtime) to the time of the change. Bytes are only kept when the file had not
 * changed for RACY_MS before its stat was taken, so a later change (one the stat did not see) gets
 * a timestamp newer than the recorded one even on file systems with coarse
 * timestamps, and the check fails. A file changed within RACY_MS of its stat is served from a
 * fresh read and not kept (git's "racily clean" rule). No file watcher event is waited for; bytes
 * of deleted files stay until the byte bound pushes them out.
 */
import type { Stats } from 'node:fs';
import { etagFor, lastModifiedFor } from './validators.js';

/** Coarsest timestamp granularity allowed for (FAT keeps 2 s; ext4, tmpfs and APFS far finer). */
const RACY_MS = 2_000;
/** Total bytes kept; the oldest entries go first when a new one does not fit. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** What is kept of one file; everything here follows from its bytes and the stat they were read with. */
export interface KeptFile {
  readonly body: Buffer;
  /** Its ETag and Last-Modified, made once instead of on every response. */
  readonly etag: string;
  readonly lastModified: string;
  /** Whether the bytes are a whole HTML document (html-inject.ts), once someone asked. */
  isDocument: boolean | undefined;
  /** The page with a live-reload tag and its ETag, for the tag variant last asked for. */
  injected: { variant: string; body: Buffer; etag: string } | null;
}

interface Kept extends KeptFile {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface FileMemory {
  /** The kept bytes of `real` when `st` (taken now) shows the same file as when they were read. */
  get(real: string, st: Stats): Buffer | null;
  /** As get, with what was derived from the bytes (validators, the injected page). */
  entry(real: string, st: Stats): KeptFile | null;
  /**
   * Keeps `body`, read from `real` after `st` was taken at `statAt` (Date.now() read before the
   * stat), unless the file had changed within RACY_MS before then.
   */
  keep(real: string, st: Stats, statAt: number, body: Buffer): void;
  forget(real: string): void;
  readonly bytes: number;
}

function same(k: Kept, st: Stats): boolean {
  return k.ino === st.ino && k.dev === st.dev && k.size === st.size && k.mtimeMs === st.mtimeMs && k.ctimeMs === st.ctimeMs;
}

export function createFileMemory(maxBytes = DEFAULT_MAX_BYTES): FileMemory {
  const kept = new Map<string, Kept>();
  let bytes = 0;

  function forget(real: string): void {
    const k = kept.get(real);
    if (!k) return;
    kept.delete(real);
    bytes -= k.body.length;
  }

  function entry(real: string, st: Stats): Kept | null {
    const k = kept.get(real);
    if (k === undefined) return null;
    if (same(k, st)) return k;
    forget(real);
    return null;
  }

  return {
    get: (real, st) => entry(real, st)?.body ?? null,
    entry,
    keep(real, st, statAt, body) {
      forget(real);
      // A length that differs from the stat means the file changed while it was read.
      if (body.length !== st.size || body.length > maxBytes) return;
      if (statAt - Math.max(st.mtimeMs, st.ctimeMs) < RACY_MS) return;
      for (const [key, k] of kept) {
        if (bytes + body.length <= maxBytes) break;
        kept.delete(key);
        bytes -= k.body.length;
      }
      kept.set(real, {
        dev: st.dev,
        ino: st.ino,
        size: st.size,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
        body,
        etag: etagFor(st),
        lastModified: lastModifiedFor(st.mtimeMs),
        isDocument: undefined,
        injected: null,
      });
      bytes += body.length;
    },
    forget,
    get bytes() {
      return bytes;
    },
  };
}
