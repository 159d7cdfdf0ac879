/**
 * `bext plugin storage --recover [FILE]`: salvage a damaged state.db. When the current state.db
 * is damaged it is first set aside (as `bext dev` would); then what can still be read from the
 * damaged copy (FILE, else the newest `state.db.damaged-*`) is copied into the current state.db
 * without overwriting anything there. What the walk can and cannot reach: src/host/storage/salvage.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { displayPath } from '../../config/index.js';
import { BextError, EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import { damagedCopies, setAsideIfDamaged } from '../../host/damaged-db.js';
import { openStateDb } from '../../host/state-db.js';
import { salvageInto } from '../../host/storage/salvage.js';
import { thousands } from '../../format.js';

export function recover(dbPath: string, from: string | undefined, json: boolean): number {
  const lines: string[] = [];
  const aside = setAsideIfDamaged(dbPath);
  if (aside) lines.push(`${displayPath(dbPath)} was damaged (${aside.problem}): moved it to ${displayPath(aside.aside)}`);
  const source = from !== undefined ? path.resolve(from) : (aside?.aside ?? damagedCopies(dbPath)[0]);
  if (source === undefined) {
    throw new BextError('not_found', `nothing to recover: ${displayPath(dbPath)} is not damaged and no damaged copy (${path.basename(dbPath)}.damaged-*) is beside it`);
  }
  if (!existsSync(source)) throw new BextError('not_found', `no such file: ${source}`);
  const db = openStateDb(dbPath);
  let report;
  try {
    report = salvageInto(source, db);
  } finally {
    db.close();
  }
  if (json) {
    process.stdout.write(JSON.stringify({ into: dbPath, set_aside: aside?.aside ?? null, ...report }) + '\n');
  } else {
    if (report.unreadable !== undefined) {
      lines.push(`nothing could be read from ${displayPath(source)}: ${report.unreadable}`);
    } else {
      lines.push(`recovered from ${displayPath(source)} into ${displayPath(dbPath)}:`);
      for (const t of report.tables) {
        const kept = t.read - t.copied;
        lines.push(`  ${t.table.padEnd(12)}  ${thousands(t.read)} row(s) read, ${thousands(t.copied)} copied${kept > 0 ? `, ${thousands(kept)} already present (kept)` : ''}`);
        if (t.stopped !== undefined) lines.push(`  ${''.padEnd(12)}  reading stopped at damage (${t.stopped}); rows between damaged pages are lost`);
      }
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  return report.unreadable !== undefined ? EXIT_RUNTIME : EXIT_OK;
}
