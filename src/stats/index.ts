/**
 * Stats: every hook call's outcome, fuel and wall time, aggregated per plugin and hook with HDR
 * histograms, kept in memory for the live server and persisted in `.bext/stats.db`.
 */
export { openStats } from './recorder.js';
export { openStatsLater, type DeferredStats } from './deferred.js';
export { readPersisted, resetPersisted, persistedPlugins } from './persisted.js';
export { parseSince } from './since.js';
export { statsDbPath } from './store.js';
export type {
  StatsRecorder,
  StatsSnapshot,
  PluginStats,
  HookStats,
  Distribution,
  FuelDistribution,
  OutcomeCounts,
  RefusedFetch,
  OpenStatsOptions,
  SnapshotOptions,
} from './types.js';
