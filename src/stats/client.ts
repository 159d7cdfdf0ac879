/**
 * Asks a running dev server for its admin API (`/__bext/...`). On the configured port, where
 * often nobody listens, it answers quickly or not at all: a CLI that waits there would feel
 * broken, so the timeout is short. A server that `.bext/server.json` names (its pid is running)
 * or that `--url` names is known to be there and gets longer: a busy one can take over a second.
 * Any failure (refused, timeout, not JSON, not bext) simply means "no live server".
 */
import { STATS_SNAPSHOT_VERSION, type StatsSnapshot } from './types.js';
import type { PluginInfo } from '../runtime/types.js';

export const LIVE_TIMEOUT_MS = 800;
/** For a server known to run (named by server.json or --url). */
export const KNOWN_SERVER_TIMEOUT_MS = 10_000;

/** Base URL of the admin API for a configured host/port; wildcard binds are reached on loopback. */
export function adminBase(host: string, port: number): string {
  let h = host;
  if (h === '0.0.0.0' || h === '') h = '127.0.0.1';
  if (h === '::' || h === '[::]') h = '::1';
  if (h.includes(':') && !h.startsWith('[')) h = `[${h}]`;
  return `http://${h}:${port}`;
}

export type LiveResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'not_found' }
  | { kind: 'unreachable'; reason: string };

async function getJson(url: string, timeoutMs: number): Promise<LiveResult<unknown>> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (res.status === 404) {
      await res.body?.cancel();
      return { kind: 'not_found' };
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { kind: 'unreachable', reason: `HTTP ${res.status}` };
    }
    return { kind: 'ok', value: await res.json() };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? 'no answer' : e.cause?.code ?? e.message;
    return { kind: 'unreachable', reason };
  }
}

function isSnapshot(v: unknown): v is StatsSnapshot {
  const s = v as StatsSnapshot | null;
  return typeof s === 'object' && s !== null && s.version === STATS_SNAPSHOT_VERSION && typeof s.plugins === 'object' && s.plugins !== null;
}

/** GET /__bext/stats[/NAME][?since=ISO]. A reply that is not a stats snapshot counts as unreachable. */
export async function fetchLiveStats(
  base: string,
  plugin: string | undefined,
  since: number | undefined,
  timeoutMs = LIVE_TIMEOUT_MS,
): Promise<LiveResult<StatsSnapshot>> {
  let url = `${base}/__bext/stats${plugin === undefined ? '' : `/${encodeURIComponent(plugin)}`}`;
  if (since !== undefined) url += `?since=${encodeURIComponent(new Date(since).toISOString())}`;
  const r = await getJson(url, timeoutMs);
  if (r.kind !== 'ok') return r;
  if (!isSnapshot(r.value)) return { kind: 'unreachable', reason: 'the server at that address is not a bext dev server' };
  return { kind: 'ok', value: { ...r.value, source: 'live' } };
}

/** GET /__bext/plugins. */
export async function fetchLivePlugins(base: string, timeoutMs = LIVE_TIMEOUT_MS): Promise<LiveResult<PluginInfo[]>> {
  const r = await getJson(`${base}/__bext/plugins`, timeoutMs);
  if (r.kind !== 'ok') return r;
  const v = r.value as PluginInfo[] | { plugins?: PluginInfo[] };
  const list = Array.isArray(v) ? v : Array.isArray(v?.plugins) ? v.plugins : null;
  if (!list || !list.every((p) => typeof p?.name === 'string' && typeof p?.state === 'string')) {
    return { kind: 'unreachable', reason: 'the server at that address is not a bext dev server' };
  }
  return { kind: 'ok', value: list };
}
