// Plugin-scoped storage through createWorkerServices on a real SQLite file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { ABI } from '../../dist/runtime/abi-codes.js';
import { tempDir, init, enc, dec } from './harness.js';

function services(plugin = 'p', perms = {}, dir = tempDir()) {
  const db = path.join(dir, '.bext', 'state.db');
  return { s: createWorkerServices(init(plugin, db, perms)), db, dir };
}

test('set, get, overwrite, delete; missing key is -1', () => {
  const { s } = services();
  assert.equal(s.storageGet(enc('a')), ABI.NOT_FOUND);
  assert.equal(s.storageSet(enc('a'), enc('one')), ABI.OK);
  assert.equal(dec(s.storageGet(enc('a'))), 'one');
  assert.equal(s.storageSet(enc('a'), enc('two')), ABI.OK);
  assert.equal(dec(s.storageGet(enc('a'))), 'two');
  assert.equal(s.storageSet(enc('empty'), new Uint8Array(0)), ABI.OK);
  assert.equal(s.storageGet(enc('empty')).length, 0);
  assert.equal(s.storageDelete(enc('a')), ABI.OK);
  assert.equal(s.storageDelete(enc('a')), ABI.NOT_FOUND);
  assert.equal(s.storageGet(enc('a')), ABI.NOT_FOUND);
  s.close();
});

test('binary values round-trip byte for byte', () => {
  const { s } = services();
  const value = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
  assert.equal(s.storageSet(enc('bin'), value), ABI.OK);
  assert.deepEqual(new Uint8Array(s.storageGet(enc('bin'))), value);
  // A view into a larger buffer stores only the view's bytes.
  const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
  assert.equal(s.storageSet(enc('view'), big.subarray(2, 5)), ABI.OK);
  assert.deepEqual([...s.storageGet(enc('view'))], [1, 2, 3]);
  s.close();
});

test('keys: 1–512 bytes of UTF-8 without NUL, else -5 and nothing written', () => {
  const { s } = services();
  assert.equal(s.storageSet(new Uint8Array(0), enc('x')), ABI.INVALID_ARGUMENT);
  assert.equal(s.storageSet(enc('k'.repeat(512)), enc('x')), ABI.OK);
  assert.equal(s.storageSet(enc('k'.repeat(513)), enc('x')), ABI.INVALID_ARGUMENT);
  // 510 ASCII + one 3-byte char = 513 bytes: counted in bytes, not characters.
  assert.equal(s.storageSet(enc('k'.repeat(510) + '€'), enc('x')), ABI.INVALID_ARGUMENT);
  assert.equal(s.storageSet(enc('k'.repeat(509) + '€'), enc('x')), ABI.OK);
  assert.equal(s.storageSet(enc('a\0b'), enc('x')), ABI.INVALID_ARGUMENT);
  assert.equal(s.storageSet(new Uint8Array([0x61, 0xff, 0x62]), enc('x')), ABI.INVALID_ARGUMENT);
  assert.equal(s.storageSet(new Uint8Array([0xed, 0xa0, 0x80]), enc('x')), ABI.INVALID_ARGUMENT); // lone surrogate
  assert.equal(s.storageGet(new Uint8Array([0xff])), ABI.INVALID_ARGUMENT);
  assert.equal(s.storageDelete(new Uint8Array(0)), ABI.INVALID_ARGUMENT);
  // A leading BOM is part of the key, not stripped.
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x6b]);
  assert.equal(s.storageSet(bom, enc('with-bom')), ABI.OK);
  assert.equal(s.storageGet(enc('k')), ABI.NOT_FOUND);
  assert.equal(dec(s.storageGet(bom)), 'with-bom');
  s.close();
});

test('plugins have separate key spaces in the same file', () => {
  const dir = tempDir();
  const a = services('a', {}, dir).s;
  const b = services('b', {}, dir).s;
  assert.equal(a.storageSet(enc('k'), enc('from a')), ABI.OK);
  assert.equal(b.storageGet(enc('k')), ABI.NOT_FOUND);
  assert.equal(b.storageSet(enc('k'), enc('from b')), ABI.OK);
  assert.equal(dec(a.storageGet(enc('k'))), 'from a');
  assert.equal(b.storageDelete(enc('k')), ABI.OK);
  assert.equal(dec(a.storageGet(enc('k'))), 'from a');
  a.close();
  b.close();
});

test('quota: exactly at the limit is allowed, one byte over is -3 and changes nothing', () => {
  const { s, db } = services('q', { storage_quota_kb: 1 }); // 1024 bytes of keys + values
  assert.equal(s.storageSet(enc('a'), new Uint8Array(1000)), ABI.OK); // 1 + 1000 = 1001
  assert.equal(s.storageSet(enc('b'), new Uint8Array(23)), ABI.QUOTA_EXCEEDED); // 1001 + 24 = 1025
  assert.equal(s.storageGet(enc('b')), ABI.NOT_FOUND);
  assert.equal(s.storageSet(enc('b'), new Uint8Array(22)), ABI.OK); // 1001 + 23 = 1024 exactly
  assert.equal(s.storageSet(enc('c'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED); // even 1 key byte is over
  // Overwrite counts the delta: growing 'b' by one byte is over, keeping its size is fine.
  assert.equal(s.storageSet(enc('b'), new Uint8Array(23).fill(7)), ABI.QUOTA_EXCEEDED);
  assert.deepEqual([...s.storageGet(enc('b'))], new Array(22).fill(0));
  assert.equal(s.storageSet(enc('b'), new Uint8Array(22).fill(5)), ABI.OK);
  // Shrinking frees room for exactly what was freed.
  assert.equal(s.storageSet(enc('a'), new Uint8Array(990)), ABI.OK); // now 1014
  assert.equal(s.storageSet(enc('c'), new Uint8Array(10)), ABI.QUOTA_EXCEEDED); // 1014 + 11 = 1025
  assert.equal(s.storageSet(enc('c'), new Uint8Array(9)), ABI.OK); // 1024
  // Deleting refunds the key and the value.
  assert.equal(s.storageDelete(enc('a')), ABI.OK); // 1024 - 991 = 33
  assert.equal(s.storageSet(enc('d'), new Uint8Array(990)), ABI.OK); // 33 + 991 = 1024
  s.close();
  // The accounting agrees with the rows themselves.
  const raw = new Database(db, { readonly: true });
  const rows = raw.prepare("SELECT sum(length(CAST(key AS BLOB)) + length(value)) FROM host_storage WHERE plugin='q'").pluck().get();
  const usage = raw.prepare("SELECT bytes FROM host_usage WHERE plugin='q'").pluck().get();
  assert.equal(rows, 1024);
  assert.equal(usage, 1024);
  raw.close();
});

test('a plugin over a lowered quota can still shrink and delete, not grow', () => {
  const dir = tempDir();
  const big = services('lower', { storage_quota_kb: 4 }, dir).s;
  assert.equal(big.storageSet(enc('k'), new Uint8Array(3000)), ABI.OK);
  big.close();
  const small = services('lower', { storage_quota_kb: 1 }, dir).s;
  assert.equal(small.storageSet(enc('n'), new Uint8Array(1)), ABI.QUOTA_EXCEEDED);
  assert.equal(small.storageSet(enc('k'), new Uint8Array(2000)), ABI.OK);
  assert.equal(small.storageDelete(enc('k')), ABI.OK);
  assert.equal(small.storageSet(enc('n'), new Uint8Array(1)), ABI.OK);
  small.close();
});

test('data persists across close and reopen (a restart)', () => {
  const dir = tempDir();
  const first = services('persist', {}, dir).s;
  for (let i = 0; i < 50; i++) assert.equal(first.storageSet(enc(`k${i}`), enc(`v${i}`)), ABI.OK);
  first.close();
  const second = services('persist', {}, dir).s;
  for (let i = 0; i < 50; i++) assert.equal(dec(second.storageGet(enc(`k${i}`))), `v${i}`);
  second.close();
});

test('after close, calls return -7 instead of throwing', () => {
  const { s } = services();
  s.close();
  s.close(); // idempotent
  assert.equal(s.storageSet(enc('a'), enc('b')), ABI.INTERNAL);
  assert.equal(s.storageGet(enc('a')), ABI.INTERNAL);
});

test('an unreadable state file fails createWorkerServices with a clear error', () => {
  const dir = tempDir();
  const file = path.join(dir, 'state.db');
  fs.writeFileSync(file, 'this is not a database, just text that is long enough to have a header '.repeat(20));
  assert.throws(() => createWorkerServices(init('x', file)), /not a database|file is not a database/i);
});

test('the state database runs in WAL mode with NORMAL sync, FULL with BEXT_STATE_SYNC=full', async () => {
  const { openStateDb } = await import('../../dist/host/state-db.js');
  const file = path.join(tempDir(), 'nested', 'dir', 'state.db');
  const db = openStateDb(file);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 1);
  assert.ok(db.pragma('busy_timeout', { simple: true }) >= 1000);
  db.close();
  process.env.BEXT_STATE_SYNC = 'full';
  try {
    const full = openStateDb(file);
    assert.equal(full.pragma('synchronous', { simple: true }), 2);
    full.close();
  } finally {
    delete process.env.BEXT_STATE_SYNC;
  }
});
