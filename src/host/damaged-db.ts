/**
 * Telling a damaged SQLite file from a healthy (or busy) one, and setting a damaged one aside so
 * bext can start with a fresh file. "Damaged" is what SQLite itself reports: the file is not a
 * database (garbage or zeroed header, random bytes), the image is malformed (truncated, zeroed or
 * overwritten pages, found by `PRAGMA quick_check`), or the path cannot be opened as a file (a
 * directory). A lock held by another process is not damage and is left to the caller.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BUSY_TIMEOUT_MS, sqliteDriver } from './state-db.js';

/** SQLite result codes that mean the file itself is bad (better-sqlite3 puts them in `err.code`). */
const DAMAGE_CODES = /^SQLITE_(CORRUPT|NOTADB|CANTOPEN|IOERR|FORMAT|RANGE)/;

/** True when `err` is SQLite reporting a damaged file (not a busy or locked one). */
export function isDamageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DAMAGE_CODES.test(code);
}

/**
 * Why `file` is unusable as a database, or null when it is fine or does not exist. Opens it
 * (replaying its WAL) and runs `PRAGMA quick_check`, which reads every page: milliseconds for the
 * few megabytes a dev server keeps.
 */
export function dbProblem(file: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return null;
  }
  if (st.isDirectory()) return 'it is a directory, not a database file';
  if (!st.isFile()) return 'it is not a regular file';
  if (st.size === 0) return null; // SQLite treats an empty file as a new database
  let db: ReturnType<typeof open> | null = null;
  try {
    db = open(file);
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length > 0) return `quick_check: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`;
    return null;
  } catch (err) {
    if (isDamageError(err)) return (err as Error).message;
    throw err;
  } finally {
    db?.close();
  }
}

function open(file: string) {
  const Driver = sqliteDriver();
  return new Driver(file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
}

/** `state.db.damaged-20260115-120301` (local time; a counter is added if that name is taken). */
export function asideName(file: string, now: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}-${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`;
  let name = `${file}.damaged-${stamp}`;
  for (let i = 2; fs.existsSync(name); i++) name = `${file}.damaged-${stamp}-${i}`;
  return name;
}

/**
 * Renames a damaged database (and its -wal and -shm files, which belong to it) out of the way, so
 * the next open starts an empty one. Returns the new path of the database file.
 */
export function setAside(file: string, now = new Date()): string {
  const target = asideName(file, now);
  fs.renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
  }
  return target;
}

/** The damaged copies set aside next to `file`, newest first. */
export function damagedCopies(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.damaged-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && !n.endsWith('-wal') && !n.endsWith('-shm'))
    .map((n) => path.join(dir, n))
    .sort((a, b) => b.localeCompare(a));
}

/** Sets `file` aside when it is damaged; null when it is fine or absent. */
export function setAsideIfDamaged(file: string, now = new Date()): { problem: string; aside: string } | null {
  const problem = dbProblem(file);
  if (problem === null) return null;
  return { problem, aside: setAside(file, now) };
}
