/**
 * Before the dev server records stats: a damaged stats.db is set aside (stats are figures that
 * start again from zero; nothing else depends on them), and stats an older bext kept in state.db
 * move to a new stats.db. Returns what the user should be told, one line each.
 */
import fs from 'node:fs';
import { displayPath } from '../config/index.js';
import { setAsideIfDamaged } from '../host/damaged-db.js';
import { stateDbPath } from '../host/state-db.js';
import { moveLegacyStats, statsDbPath, StatsStore } from './store.js';

export function prepareStatsFile(stateDir: string): string[] {
  const file = statsDbPath(stateDir);
  const notes: string[] = [];
  const damaged = setAsideIfDamaged(file);
  if (damaged) {
    notes.push(`${displayPath(file)} was damaged (${damaged.problem}): moved it to ${displayPath(damaged.aside)}; stats start again from zero`);
    return notes;
  }
  if (fs.existsSync(file)) return notes;
  const store = new StatsStore(file);
  try {
    moveLegacyStats(store, stateDbPath(stateDir));
  } catch (err) {
    notes.push(`the stats kept in ${displayPath(stateDbPath(stateDir))} by an older bext could not be moved to ${displayPath(file)} (${(err as Error).message}); they are left where they were`);
  } finally {
    store.close();
  }
  return notes;
}
