/**
 * `bext dev` starts whatever shape `.bext/` is in. A damaged state.db (plugin storage, KV, queues)
 * is set aside under a timestamped name and an empty one is started; `bext plugin storage
 * --recover` copies what can still be read from the copy. Then the stats file is prepared
 * (src/stats/prepare.ts). Returns warnings for the banner and the log, one line each.
 */
import { displayPath } from '../config/index.js';
import { setAsideIfDamaged } from '../host/damaged-db.js';
import { stateDbPath } from '../host/state-db.js';
import { prepareStatsFile } from '../stats/prepare.js';

export function prepareStateFiles(stateDir: string): string[] {
  const warnings: string[] = [];
  const file = stateDbPath(stateDir);
  const damaged = setAsideIfDamaged(file);
  if (damaged) {
    warnings.push(
      `${displayPath(file)} was damaged (${damaged.problem}): moved it to ${displayPath(damaged.aside)} and started an empty one, ` +
        'so plugin storage, KV and queues start empty; `bext plugin storage --recover` copies what can still be read from it',
    );
  }
  warnings.push(...prepareStatsFile(stateDir));
  return warnings;
}
