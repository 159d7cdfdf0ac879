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
 */
import { readFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';

export interface LookupOptions {
  /** Aborted at the fetch deadline: the lookup must stop and leave nothing pending. */
  signal: AbortSignal;
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

/** The addresses the hosts file gives `host` (lower-case), in file order; [] when it has none. */
export async function fromHostsFile(host: string, file = hostsFile()): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2) continue;
    if (fields.slice(1).some((name) => name.toLowerCase() === host)) out.push(fields[0]!);
  }
  return out;
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

  // Two tries (c-ares doubles the wait for the second) outlast the deadline, so a resolver that
  // never answers ends as the fetch's `timeout`, and the abort below cancels what is left.
  const resolver = new Resolver({ timeout: Math.max(50, Math.floor(timeoutMs / 2)), tries: 2 });
  const servers = dnsServersFromEnv();
  if (servers) resolver.setServers(servers);
  const cancel = (): void => resolver.cancel();
  signal.addEventListener('abort', cancel, { once: true });
  try {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    if (signal.aborted) throw abortError();
    const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (addresses.length > 0) return addresses;
    // No address in either family: report the IPv4 reason (ENOTFOUND, ETIMEOUT, ...).
    throw v4.status === 'rejected' ? v4.reason : (v6 as PromiseRejectedResult).reason;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
};

function abortError(): Error {
  return Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
}
