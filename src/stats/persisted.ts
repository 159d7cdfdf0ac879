/** Read and reset the persisted stats without a running recorder (the CLI's fallback path). */
import { openExistingStore, StatsStore } from './store.js';
import { toSnapshot } from './snapshot.js';
import type { StatsSnapshot } from './types.js';

export interface ReadOptions {
  plugin?: string;
  since?: number;
  now?: number;
}

/** The stored stats as a 'persisted' snapshot; an empty one when the database does not exist. */
export function readPersisted(dbPath: string, opts: ReadOptions = {}): StatsSnapshot {
  const now = opts.now ?? Date.now();
  const store = openExistingStore(dbPath);
  if (!store) return toSnapshot(new Map(), 'persisted', now, opts.since ?? null, opts.plugin);
  try {
    return toSnapshot(store.load({ since: opts.since, plugin: opts.plugin }), 'persisted', now, opts.since ?? null, opts.plugin);
  } finally {
    store.close();
  }
}

/** Names of plugins that have persisted stats. */
export function persistedPlugins(dbPath: string): string[] {
  const store = openExistingStore(dbPath);
  if (!store) return [];
  try {
    return store.pluginNames();
  } finally {
    store.close();
  }
}

/**
 * Deletes persisted stats of one plugin (or all). A running recorder sees the reset mark at its
 * next snapshot or flush and drops its in-memory figures too. Returns the number of bucket rows removed.
 */
export function resetPersisted(dbPath: string, plugin?: string, now = Date.now()): number {
  const store = openExistingStore(dbPath) ?? new StatsStore(dbPath);
  try {
    return store.reset(plugin, now);
  } finally {
    store.close();
  }
}
