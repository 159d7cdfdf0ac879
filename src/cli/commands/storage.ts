/**
 * `bext plugin storage NAME [--get KEY [--raw]] [--clear] [--json]`: look at what a plugin stored.
 * Lists keys with sizes and quota usage, prints one value, or (only with --clear) deletes the
 * plugin's own keys. Shared KV namespaces and queues belong to every plugin that lists them,
 * so --clear leaves them alone. Reads `.bext/state.db` beside the config; never creates it.
 * A damaged state.db is named with what to do; `--recover [FILE]` (recover.ts) salvages one.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { loadConfig } from '../../config/index.js';
import { BextError, EXIT_OK } from '../../errors.js';
import { openStateDb, stateDbPath, type StateDb } from '../../host/state-db.js';
import { dbProblem } from '../../host/damaged-db.js';
import { recover } from './recover.js';
import { clearStorage, getValue, listKeys, pluginsWithData, usage } from '../../host/storage/inspect.js';
import { keyProblem } from '../../host/keys.js';
import { percent, thousands } from '../../format.js';
import { noteConfigFile } from '../config-file.js';

export interface StorageOptions {
  config?: string;
  get?: string;
  clear?: boolean;
  json?: boolean;
  /** --raw: --get writes the value's bytes and nothing else. */
  raw?: boolean;
  /** true: the newest copy set aside; a string: that file. */
  recover?: boolean | string;
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The closest candidate when it is plausibly a typo (a few edits away), else undefined. */
function suggest(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const guess = closest(word, candidates);
  return distance(word, guess) <= Math.max(2, Math.floor(word.length / 3)) ? guess : undefined;
}

function unknownPlugin(name: string, known: string[]): BextError {
  const details: string[] = [];
  const guess = suggest(name, known);
  if (guess) details.push(`  did you mean "${guess}"?`);
  details.push(known.length ? `  known plugins: ${known.join(', ')}` : '  no plugins are configured and nothing is stored');
  return new BextError('unknown_plugin', `unknown plugin "${name}": it is not in the config and has nothing stored`, { details });
}

function decodeText(value: Buffer): string | null {
  try {
    return strict.decode(value);
  } catch {
    return null;
  }
}

function showValue(name: string, key: string, value: Buffer, json: boolean, raw: boolean): void {
  const text = decodeText(value);
  if (json) {
    out(JSON.stringify(text !== null ? { plugin: name, key, size: value.length, value: text } : { plugin: name, key, size: value.length, value_base64: value.toString('base64') }));
    return;
  }
  // The value's bytes as stored. Text ends in a newline like any command's output (so shells and
  // `$(...)` see a line); bytes that are not UTF-8 stay exact unless a person is at a terminal.
  // --raw writes the bytes alone, for `--get KEY --raw > file`.
  process.stdout.write(value);
  const endsLine = value.length > 0 && value[value.length - 1] === 0x0a;
  if (!raw && !endsLine && (text !== null || process.stdout.isTTY)) process.stdout.write('\n');
}

function listing(db: StateDb, name: string, quotaKb: number | null, json: boolean, dbShown: string): void {
  const keys = listKeys(db, name);
  const u = usage(db, name);
  const quotaBytes = quotaKb === null ? null : quotaKb * 1024;
  if (json) {
    out(JSON.stringify({
      plugin: name,
      db: dbShown,
      quota_bytes: quotaBytes,
      used_bytes: u.totalBytes,
      storage: { keys: u.storage.keys, bytes: u.storage.bytes },
      kv_owned: u.kv,
      queued: u.queues,
      keys: keys.map((k) => ({ key: k.key, size: k.size, value_bytes: k.valueBytes })),
    }));
    return;
  }
  const quota = quotaBytes === null ? '(plugin not in the config: no quota known)' : `of ${thousands(quotaBytes)} quota (${percent(u.totalBytes, quotaBytes)})`;
  const lines = [`plugin ${name}: ${thousands(keys.length)} key${keys.length === 1 ? '' : 's'}, ${thousands(u.totalBytes)} bytes used ${quota}`, `state: ${dbShown}`];
  if (u.kv.entries > 0) lines.push(`also pays for ${thousands(u.kv.entries)} shared KV entr${u.kv.entries === 1 ? 'y' : 'ies'} (${thousands(u.kv.bytes)} bytes) in ${u.kv.namespaces.join(', ')}`);
  if (u.queues.messages > 0) lines.push(`and ${thousands(u.queues.messages)} unconsumed queue message${u.queues.messages === 1 ? '' : 's'} (${thousands(u.queues.bytes)} bytes) in ${u.queues.names.join(', ')}`);
  if (keys.length > 0) {
    const shown = keys.map((k) => ({ key: JSON.stringify(k.key).slice(1, -1), size: thousands(k.size) }));
    const w = Math.max(3, ...shown.map((k) => k.key.length));
    const sw = Math.max(4, ...shown.map((k) => k.size.length));
    lines.push('', `${'KEY'.padEnd(w)}  ${'SIZE'.padStart(sw)}`);
    for (const k of shown) lines.push(`${k.key.padEnd(w)}  ${k.size.padStart(sw)}`);
    lines.push('', 'SIZE = bytes of key + value (what the quota counts). --get KEY prints a value; --clear deletes them all.');
  }
  out(lines.join('\n'));
}

/** The message `bext plugin storage` gives for a damaged state.db (the same facts `bext dev` logs). */
function damaged(dbShown: string, problem: string): BextError {
  return new BextError('state_damaged', `${dbShown} is damaged (${problem})`, {
    details: [
      '  plugin storage, KV and queues cannot be read from it. `bext dev` sets it aside under a timestamped name',
      '  and starts an empty one; `bext plugin storage --recover` does the same and copies what can still be read.',
    ],
  });
}

export async function run(name: string | undefined, opts: StorageOptions): Promise<number> {
  if (opts.recover !== undefined && opts.recover !== false) {
    if (name !== undefined || opts.get !== undefined || opts.clear) throw new BextError('usage', '--recover works on the whole state.db: give no plugin name, --get or --clear with it');
    const config = loadConfig(opts.config, { checkFiles: false });
    return recover(stateDbPath(config.stateDir), typeof opts.recover === 'string' ? opts.recover : undefined, opts.json === true);
  }
  if (name === undefined) throw new BextError('usage', 'missing plugin name: bext plugin storage NAME (or --recover)');
  if (opts.raw && opts.get === undefined) throw new BextError('usage', '--raw only applies with --get KEY');
  if (opts.get !== undefined && opts.clear) {
    throw new BextError('usage', '--get and --clear cannot be used together');
  }
  if (opts.get !== undefined) {
    const problem = keyProblem(opts.get);
    if (problem) throw new BextError('usage', `--get: ${problem}`);
  }
  const config = loadConfig(opts.config, { checkFiles: false });
  noteConfigFile(opts.config, config);
  const dbPath = stateDbPath(config.stateDir);
  const dbShown = path.relative(process.cwd(), dbPath) || dbPath;
  const configured = config.plugins.find((p) => p.name === name);
  const configuredNames = config.plugins.map((p) => p.name);

  if (!existsSync(dbPath)) {
    if (!configured) throw unknownPlugin(name, configuredNames);
    if (opts.get !== undefined) throw new BextError('not_found', `plugin ${name} has no key "${opts.get}" (nothing is stored yet: no ${dbShown})`);
    if (opts.clear) out(opts.json ? JSON.stringify({ plugin: name, cleared_keys: 0, cleared_bytes: 0 }) : `plugin ${name}: nothing to clear (no ${dbShown} yet)`);
    else if (opts.json) {
      const quota = configured.permissions.storage_quota_kb * 1024;
      out(JSON.stringify({ plugin: name, db: dbShown, quota_bytes: quota, used_bytes: 0, keys: [] }));
    } else out(`plugin ${name}: nothing stored yet (no ${dbShown})`);
    return EXIT_OK;
  }

  const problem = dbProblem(dbPath);
  if (problem !== null) throw damaged(dbShown, problem);
  const db = openStateDb(dbPath);
  try {
    if (!configured && !pluginsWithData(db).includes(name)) {
      throw unknownPlugin(name, [...new Set([...configuredNames, ...pluginsWithData(db)])].sort());
    }
    if (opts.get !== undefined) {
      const value = getValue(db, name, opts.get);
      if (value === undefined) {
        const keys = listKeys(db, name).map((k) => k.key);
        const guess = suggest(opts.get, keys);
        throw new BextError('not_found', `plugin ${name} has no key "${opts.get}"`, {
          details: guess ? [`  did you mean "${guess}"?`] : [],
        });
      }
      showValue(name, opts.get, value, opts.json === true, opts.raw === true);
      return EXIT_OK;
    }
    if (opts.clear) {
      const cleared = clearStorage(db, name);
      out(opts.json
        ? JSON.stringify({ plugin: name, cleared_keys: cleared.keys, cleared_bytes: cleared.bytes })
        : `plugin ${name}: cleared ${thousands(cleared.keys)} key${cleared.keys === 1 ? '' : 's'} (${thousands(cleared.bytes)} bytes); shared KV and queues were left alone`);
      return EXIT_OK;
    }
    listing(db, name, configured ? configured.permissions.storage_quota_kb : null, opts.json === true, dbShown);
    return EXIT_OK;
  } finally {
    db.close();
  }
}
