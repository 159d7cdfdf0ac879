/**
 * Salvage from a damaged state database (`bext plugin storage --recover`). better-sqlite3 has no
 * `.recover`, so this reads what SQLite still can: each table is walked in key order from the
 * front until a damaged page stops the walk, then from the back until one stops it again. Rows
 * between two damaged pages, and every row when the header is gone (page 1 is garbage or zero),
 * cannot be reached this way and are lost. Rows are copied into the current state database
 * without replacing what is there (newer data wins); quota usage follows through the triggers.
 */
import type { StateDb } from '../state-db.js';
import { sqliteDriver } from '../state-db.js';

interface TableSpec {
  table: 'host_storage' | 'host_kv' | 'host_queue';
  columns: string[];
  /** The key the table is ordered by (its primary key). */
  order: string;
  insert: string;
}

const TABLES: TableSpec[] = [
  {
    table: 'host_storage',
    columns: ['plugin', 'key', 'value', 'size'],
    order: 'plugin, key',
    insert: 'INSERT OR IGNORE INTO host_storage (plugin, key, value, size) VALUES (@plugin, @key, @value, @size)',
  },
  {
    table: 'host_kv',
    columns: ['namespace', 'key', 'value', 'size', 'owner'],
    order: 'namespace, key',
    insert: 'INSERT OR IGNORE INTO host_kv (namespace, key, value, size, owner) VALUES (@namespace, @key, @value, @size, @owner)',
  },
  {
    table: 'host_queue',
    columns: ['id', 'queue', 'body', 'size', 'publisher', 'published_ms'],
    order: 'id',
    // Messages get new ids after what is queued now, in their old order.
    insert: 'INSERT INTO host_queue (queue, body, size, publisher, published_ms) VALUES (@queue, @body, @size, @publisher, @published_ms)',
  },
];

export interface TableSalvage {
  table: string;
  /** Rows read from the damaged file. */
  read: number;
  /** Rows copied (rows whose key already exists in the current database are kept as they are). */
  copied: number;
  /** Why reading stopped early (the rows past it are lost), if it did. */
  stopped?: string;
}

export interface SalvageReport {
  from: string;
  /** Set when nothing could be read at all (e.g. the header is damaged). */
  unreadable?: string;
  tables: TableSalvage[];
}

type Row = Record<string, unknown>;

/** Reads rows in `order` (ASC or DESC) until the end or the first error; returns both. */
function walk(db: StateDb, spec: TableSpec, dir: 'ASC' | 'DESC'): { rows: Row[]; error: string | null } {
  const rows: Row[] = [];
  const order = spec.order.split(', ').map((c) => `${c} ${dir}`).join(', ');
  try {
    const it = db.prepare(`SELECT ${spec.columns.join(', ')} FROM ${spec.table} ORDER BY ${order}`).iterate() as IterableIterator<Row>;
    for (const row of it) rows.push(row);
    return { rows, error: null };
  } catch (err) {
    return { rows, error: (err as Error).message };
  }
}

const keyOf = (spec: TableSpec, row: Row): string => JSON.stringify(spec.order.split(', ').map((c) => row[c]));

function readTable(db: StateDb, spec: TableSpec): { rows: Row[]; stopped?: string } {
  const forward = walk(db, spec, 'ASC');
  if (forward.error === null) return { rows: forward.rows };
  const backward = walk(db, spec, 'DESC');
  const seen = new Set(forward.rows.map((r) => keyOf(spec, r)));
  const rows = [...forward.rows];
  for (const r of backward.rows.reverse()) if (!seen.has(keyOf(spec, r))) rows.push(r);
  return { rows, stopped: forward.error };
}

/**
 * Read-only when SQLite allows it; a WAL file left beside the copy needs a writable connection to
 * be read, so that is the fallback (it only ever reads).
 */
function openForReading(Driver: ReturnType<typeof sqliteDriver>, file: string): StateDb {
  let first: unknown;
  for (const readonly of [true, false]) {
    let db: StateDb | null = null;
    try {
      db = new Driver(file, { readonly, fileMustExist: true });
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      return db;
    } catch (err) {
      db?.close();
      first ??= err;
    }
  }
  throw first;
}

/** Copies what can be read from the damaged database `from` into `into`. */
export function salvageInto(from: string, into: StateDb): SalvageReport {
  const report: SalvageReport = { from, tables: [] };
  const Driver = sqliteDriver();
  let src: StateDb;
  try {
    src = openForReading(Driver, from);
  } catch (err) {
    report.unreadable = (err as Error).message;
    return report;
  }
  try {
    for (const spec of TABLES) {
      let got: { rows: Row[]; stopped?: string };
      try {
        got = readTable(src, spec);
      } catch (err) {
        got = { rows: [], stopped: (err as Error).message };
      }
      const insert = into.prepare(spec.insert);
      let copied = 0;
      into.transaction(() => {
        for (const row of got.rows) {
          const params: Row = { ...row };
          delete params.id;
          copied += insert.run(params).changes;
        }
      }).immediate();
      const t: TableSalvage = { table: spec.table, read: got.rows.length, copied };
      if (got.stopped !== undefined) t.stopped = got.stopped;
      report.tables.push(t);
    }
  } finally {
    src.close();
  }
  return report;
}
