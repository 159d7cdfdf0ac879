/**
 * Name resolution for http_fetch, bounded by the fetch deadline.
 *
 * Not dns.lookup: that is getaddrinfo on libuv's thread pool, which cannot be cancelled, so a
 * resolver that never answers keeps the thread busy for all its retries and holds the process
 * open long after the guest got its timeout (`bext plugin run` took 10.6 s to exit after a 2 s
 * fetch timeout). Instead:
 *
 *   `localhost` and `*.localhost`   127.0.0.1 and ::1, without asking anyone (RFC 6761)
 *   names in the hosts file         its addresses, read from the file
 *   everything else                 DNS (c-ares) on the system's servers, or BEXT_DNS_SERVERS;
 *                                   cancelled at the deadline, so nothing is left running
 *
 * Names are looked up as written (no resolv.conf search domains). IPv4 answers come first.
 *
 * Answers are kept for their TTL, at most MAX_TTL_MS: c-ares keeps nothing, so a plugin that
 * fetches one API on every request event would otherwise send two queries per fetch (and wait
 * for them). The hosts file is read again when it changes (checked at most once a second).
 * Caching cannot widen what a plugin reaches: every fetch still checks the addresses it gets
 * and connects to exactly those (index.ts), whether they came from the cache or the wire.
 */
import { readFile, stat } from 'node:fs/promises';
import type { RecordWithTtl } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FetchSignal } from './deadline.js';

export interface LookupOptions {
  /** Aborted at the fetch deadline: the lookup must stop and leave nothing pending. */
  signal: FetchSignal;
  /** The fetch deadline in ms (DNS retries are spread within it). */
  timeoutMs: number;
}

/** What a lookup may return: address strings or `{address, family}` records. */
export type LookupResult = Array<string | { address: string; family?: number }>;

export type Lookup = (host: string, opts: LookupOptions) => Promise<LookupResult>;

const LOCALHOST = ['127.0.0.1', '::1'];

function hostsFile(): string {
  if (process.platform === 'win32') return path.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'drivers', 'etc', 'hosts');
  return '/etc/hosts';
}

/** Name (lower-case) → its addresses in file order. */
function parseHosts(text: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    for (const name of fields.slice(1)) {
      const key = name.toLowerCase();
      const list = names.get(key);
      if (list) list.push(fields[0]!);
      else names.set(key, [fields[0]!]);
    }
  }
  return names;
}

/** How often a lookup may stat the hosts file to see whether it changed. */
const HOSTS_RECHECK_MS = 1000;

interface HostsCopy {
  names: Map<string, string[]>;
  /** The file's mtime and size when read ('' when there was no file). */
  stamp: string;
  checkedAt: number;
}
const hostsCopies = new Map<string, HostsCopy>();

/** The hosts file's names, read once and again only after it changed (or vanished, or appeared). */
async function hostsNames(file: string): Promise<Map<string, string[]>> {
  const now = performance.now();
  const copy = hostsCopies.get(file);
  if (copy && now - copy.checkedAt < HOSTS_RECHECK_MS) return copy.names;
  const st = await stat(file).catch(() => null);
  const stamp = st ? `${st.mtimeMs}/${st.size}` : '';
  if (copy && stamp === copy.stamp) {
    copy.checkedAt = now;
    return copy.names;
  }
  const names = st ? parseHosts(await readFile(file, 'utf8').catch(() => '')) : new Map<string, string[]>();
  hostsCopies.set(file, { names, stamp, checkedAt: now });
  return names;
}

/** The addresses the hosts file gives `host` (lower-case), in file order; [] when it has none. */
export async function fromHostsFile(host: string, file = hostsFile()): Promise<string[]> {
  return [...((await hostsNames(file)).get(host) ?? [])];
}

/** Longest time a DNS answer is reused, whatever its TTL says (as browsers do: a minute). */
export const MAX_TTL_MS = 60_000;
/** Most names whose answers are kept (the oldest goes first). */
const MAX_NAMES = 256;

interface Answer {
  addresses: string[];
  expires: number;
}
/** Keyed by the servers asked and the name (BEXT_DNS_SERVERS may differ between tests in one process). */
const answers = new Map<string, Answer>();

/** DNS errors that are an answer (the name has no such records), not a failure to get one. */
const DEFINITE: ReadonlySet<string> = new Set(['ENODATA', 'ENOTFOUND']);

function keep(key: string, v4: PromiseSettledResult<RecordWithTtl[]>, v6: PromiseSettledResult<RecordWithTtl[]>, addresses: string[]): void {
  let ttl = Infinity;
  for (const r of [v4, v6]) {
    // A family that failed for a passing reason (a timeout, a refused query) is asked again next time.
    if (r.status === 'rejected') {
      if (!DEFINITE.has((r.reason as NodeJS.ErrnoException)?.code ?? '')) return;
    } else for (const rec of r.value) ttl = Math.min(ttl, rec.ttl);
  }
  const ms = Math.min(ttl * 1000, MAX_TTL_MS);
  if (!(ms > 0)) return;
  if (answers.size >= MAX_NAMES) answers.delete(answers.keys().next().value!);
  answers.set(key, { addresses, expires: performance.now() + ms });
}

/** Forgets every DNS answer and the hosts file copy (tests). */
export function forgetAnswers(): void {
  answers.clear();
  asking.clear();
  hostsCopies.clear();
}

/** `BEXT_DNS_SERVERS`: comma-separated `ip` or `ip:port` / `[v6]:port`; unset = the system's servers. */
export function dnsServersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | null {
  const raw = env.BEXT_DNS_SERVERS?.trim();
  if (!raw) return null;
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The default lookup: see the module comment. Rejects with an error whose `code` says why. */
export const systemLookup: Lookup = async (host, { signal, timeoutMs }) => {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return LOCALHOST;
  const listed = await fromHostsFile(name);
  if (listed.length > 0) return listed;
  if (signal.aborted) throw abortError();

  const servers = dnsServersFromEnv();
  const key = `${servers?.join(',') ?? ''} ${name}`;
  const known = answers.get(key);
  if (known) {
    if (performance.now() < known.expires) return [...known.addresses];
    answers.delete(key);
  }
  // Fetches of one name at the same moment (several plugins calling one API) share one query.
  const deadline = performance.now() + timeoutMs;
  const joined = asking.get(key);
  if (joined !== undefined) {
    try {
      return await waitFor(joined, signal);
    } catch (err) {
      // The query joined was asked with another caller's deadline and may have given up sooner
      // (a timeout, not an answer): with time left, this caller asks again on its own.
      const left = deadline - performance.now();
      if (signal.aborted || DEFINITE.has((err as NodeJS.ErrnoException)?.code ?? '') || left < MIN_RETRY_MS) throw err;
      return await waitFor(ask(key, name, servers, left), signal);
    }
  }
  return await waitFor(ask(key, name, servers, timeoutMs), signal);
};

/** Least time left for which a caller asks again after a shared query gave up. */
const MIN_RETRY_MS = 100;

/** The query's addresses, as one of its callers: leaving at the deadline, and cancelling it if the last to leave. */
async function waitFor(query: Query, signal: FetchSignal): Promise<string[]> {
  if (signal.aborted) throw abortError();
  query.waiting++;
  let left = false;
  const leave = (): void => {
    if (left) return;
    left = true;
    // The last caller to stop waiting cancels the query, so nothing is left running.
    if (--query.waiting === 0) query.cancel();
  };
  signal.once('abort', leave);
  try {
    let addresses: string[];
    try {
      addresses = await query.addresses;
    } catch (err) {
      // A caller that left (and may have cancelled the query) was aborted, whatever the query says.
      throw signal.aborted ? abortError() : err;
    }
    if (signal.aborted) throw abortError();
    return [...addresses];
  } finally {
    signal.removeListener('abort', leave);
    if (!left) {
      left = true;
      query.waiting--;
    }
  }
}

/** A DNS query in flight, shared by every caller that waits for it. */
interface Query {
  addresses: Promise<string[]>;
  /** Callers still waiting for it. */
  waiting: number;
  cancel(): void;
}
/** Keyed like `answers`. */
const asking = new Map<string, Query>();

/** A new query for `name`, the one later callers for `key` join until it settles. */
function ask(key: string, name: string, servers: string[] | null, timeoutMs: number): Query {
  // Two tries (c-ares doubles the wait for the second, and stretches waits shorter than a few
  // hundred ms) outlast the asker's deadline, so a resolver that never answers ends as the fetch's
  // `timeout`; the last caller to stop waiting cancels what is left (waitFor).
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(timeoutMs / 2)), tries: 2 });
  if (servers) resolver.setServers(servers);
  const forget = (): void => {
    if (asking.get(key) === query) asking.delete(key);
  };
  const query: Query = {
    addresses: Promise.resolve([]),
    waiting: 0,
    cancel: () => {
      // Cancelled is final: a caller arriving before the cancellation settles asks anew.
      forget();
      resolver.cancel();
    },
  };
  query.addresses = (async () => {
    try {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]);
      const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])].map((r) => r.address);
      if (addresses.length > 0) {
        keep(key, v4, v6, addresses);
        return addresses;
      }
      // No address in either family: report the IPv4 reason (ENOTFOUND, ETIMEOUT, ...).
      throw v4.status === 'rejected' ? v4.reason : (v6 as PromiseRejectedResult).reason;
    } finally {
      forget();
    }
  })();
  // A query every caller left (all aborted) settles with nobody awaiting it.
  query.addresses.catch(() => {});
  asking.set(key, query);
  return query;
}

function abortError(): Error {
  return Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
}
