/**
 * `bext dev` starts whatever shape `.bext/` is in. A damaged state.db (plugin storage, KV, queues)
 * is set aside under a timestamped name and an empty one is started; `bext plugin storage
 * --recover` copies what can still be read from the copy. The stats file is prepared separately
 * (src/stats/prepare.ts), just before stats open. Each returns warnings for the banner and the
 * log, one line each.
 */
import { displayPath } from '../config/index.js';
import { setAsideIfDamaged } from '../host/damaged-db.js';
import { stateDbPath } from '../host/state-db.js';

/** Sets a damaged state.db aside; must run before any plugin worker opens it. */
export function prepareStateDb(stateDir: string): string[] {
  const file = stateDbPath(stateDir);
  const damaged = setAsideIfDamaged(file);
  if (!damaged) return [];
  return [
    `${displayPath(file)} was damaged (${damaged.problem}): moved it to ${displayPath(damaged.aside)} and started an empty one, ` +
      'so plugin storage, KV and queues start empty; `bext plugin storage --recover` copies what can still be read from it',
  ];
}
