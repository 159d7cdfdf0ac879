/**
 * `.bext/server.json`: how the CLI finds a running `bext dev`. The server writes it when it is
 * listening (pid, url, start time, config file) and removes it when it exits; `bext plugin
 * stats` / `plugin list` read it, so they reach a server started with `-p 3155` or `-p 0` without
 * being told the port. A file whose pid is not running (a server that was killed) is ignored,
 * with a note. `--url` overrides all of it.
 */
import { readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { BextError } from '../errors.js';
import { adminBase, KNOWN_SERVER_TIMEOUT_MS, LIVE_TIMEOUT_MS } from './client.js';

export const SERVER_FILE = 'server.json';

export interface ServerRecord {
  pid: number;
  /** Base URL the server answers on, e.g. http://127.0.0.1:3155/ (the admin API is under __bext/). */
  url: string;
  startedAt: string;
  config: string;
}

export function serverFilePath(stateDir: string): string {
  return path.join(stateDir, SERVER_FILE);
}

/** Writes the record (through a temporary file, so a reader never sees half of it). */
export function writeServerRecord(stateDir: string, rec: ServerRecord): string {
  const file = serverFilePath(stateDir);
  mkdirSync(stateDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  renameSync(tmp, file);
  return file;
}

/** Removes the record if it is still ours (another server may have started since with the same state dir). */
export function removeServerRecord(stateDir: string, pid = process.pid): void {
  const file = serverFilePath(stateDir);
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServerRecord>;
    if (rec.pid === pid) rmSync(file, { force: true });
  } catch {
    // missing or unreadable: nothing of ours to remove
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type ServerLookup =
  | { kind: 'found'; record: ServerRecord; file: string }
  | { kind: 'none' }
  | { kind: 'stale'; file: string; note: string };

export function readServerRecord(stateDir: string): ServerLookup {
  const file = serverFilePath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { kind: 'none' };
  }
  let rec: Partial<ServerRecord>;
  try {
    rec = JSON.parse(text) as Partial<ServerRecord>;
  } catch {
    return { kind: 'stale', file, note: `${file} is not valid JSON; ignored` };
  }
  if (typeof rec.pid !== 'number' || typeof rec.url !== 'string') {
    return { kind: 'stale', file, note: `${file} has no pid or url; ignored` };
  }
  if (!isRunning(rec.pid)) {
    return { kind: 'stale', file, note: `${file} names pid ${rec.pid}, which is not running (a server that did not exit cleanly); ignored` };
  }
  return { kind: 'found', record: rec as ServerRecord, file };
}

/** Where the CLI looks for a live server, and why there. */
export interface ServerTarget {
  /** Base without a trailing slash, e.g. http://127.0.0.1:3155. */
  base: string;
  how: 'url' | 'server.json' | 'config';
  /** How long to wait for its answer: short on the configured port, where often nobody listens. */
  timeoutMs: number;
  /** Said alongside the result when the lookup skipped something (a stale server.json). */
  note?: string;
}

function badUrl(url: string): BextError {
  return new BextError('bad_flags', `--url must be an http URL such as http://127.0.0.1:3155, got "${url}"`);
}

/** Strips a trailing slash and an `/__bext/...` path, so `--url` takes what the banner prints. */
export function baseOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl(url);
  }
  if (u.protocol !== 'http:') throw badUrl(url);
  return `${u.protocol}//${u.host}`;
}

export function findServer(stateDir: string, configured: { host: string; port: number }, url?: string): ServerTarget {
  if (url !== undefined) return { base: baseOf(url), how: 'url', timeoutMs: KNOWN_SERVER_TIMEOUT_MS };
  const found = readServerRecord(stateDir);
  if (found.kind === 'found') return { base: baseOf(found.record.url), how: 'server.json', timeoutMs: KNOWN_SERVER_TIMEOUT_MS };
  const base = adminBase(configured.host, configured.port);
  const timeoutMs = LIVE_TIMEOUT_MS;
  return found.kind === 'stale' ? { base, how: 'config', timeoutMs, note: found.note } : { base, how: 'config', timeoutMs };
}
