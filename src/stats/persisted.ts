/** Read and reset the persisted stats without a running recorder (the CLI's fallback path). */
import { BextError } from '../errors.js';
import { openExistingStore, StatsStore } from './store.js';
import { toSnapshot } from './snapshot.js';
import type { StatsSnapshot } from './types.js';

export interface ReadOptions {
  plugin?: string;
  since?: number;
  now?: number;
}

/** Runs `fn` on the store, turning SQLite failures (corrupt file, locked too long) into a clear error. */
function withStore<T>(dbPath: string, create: boolean, empty: T, fn: (s: StatsStore) => T): T {
  let store: StatsStore | null;
  try {
    store = create ? (openExistingStore(dbPath) ?? new StatsStore(dbPath)) : openExistingStore(dbPath);
    if (!store) return empty;
  } catch (err) {
    throw storeError(dbPath, err);
  }
  try {
    return fn(store);
  } catch (err) {
    throw storeError(dbPath, err);
  } finally {
    store.close();
  }
}

function storeError(dbPath: string, err: unknown): BextError {
  if (err instanceof BextError) return err;
  return new BextError('stats_store', `cannot read stats from ${dbPath}: ${(err as Error).message}`, {
    details: ['  it holds only stats; if it is damaged, `bext dev` sets it aside and starts a new one (plugin storage is in state.db)'],
    cause: err,
  });
}

/** The stored stats as a 'persisted' snapshot; an empty one when the database does not exist. */
export function readPersisted(dbPath: string, opts: ReadOptions = {}): StatsSnapshot {
  const now = opts.now ?? Date.now();
  const since = opts.since ?? null;
  const empty = toSnapshot(new Map(), 'persisted', now, since, opts.plugin);
  return withStore(dbPath, false, empty, (store) =>
    toSnapshot(store.load({ since: opts.since, plugin: opts.plugin }), 'persisted', now, since, opts.plugin),
  );
}

/** Names of plugins that have persisted stats. */
export function persistedPlugins(dbPath: string): string[] {
  return withStore(dbPath, false, [] as string[], (store) => store.pluginNames());
}

/**
 * Deletes persisted stats of one plugin (or all). A running recorder sees the reset mark at its
 * next snapshot or flush and drops its in-memory figures too. Returns the number of bucket rows removed.
 */
export function resetPersisted(dbPath: string, plugin?: string, now = Date.now()): number {
  return withStore(dbPath, true, 0, (store) => store.reset(plugin, now));
}
