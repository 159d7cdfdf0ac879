// Storage usage is counted in memory per connection (no trigger on host_storage) and read again
// when another connection has committed. These tests hold it to the exact quota: against a model
// over many writes, with a second connection changing the rows in between, with KV and queues
// sharing the count, and on a file written before the change (host_usage was a table then).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { clearStorage, usage } from '../../dist/host/storage/inspect.js';
import { openStateDb } from '../../dist/host/state-db.js';
import { ABI } from '../../dist/runtime/abi-codes.js';
import { tempDir, init, enc, dec } from './harness.js';

const dbFile = () => path.join(tempDir(), '.bext', 'state.db');

function rowsAndView(file, plugin) {
  const raw = new Database(file, { readonly: true });
  try {
    const rows = raw.prepare('SELECT total(size) FROM host_storage WHERE plugin = ?').pluck().get(plugin)
      + raw.prepare('SELECT total(size) FROM host_kv WHERE owner = ?').pluck().get(plugin)
      + raw.prepare('SELECT total(size) FROM host_queue WHERE publisher = ?').pluck().get(plugin);
    const view = raw.prepare('SELECT bytes FROM host_usage WHERE plugin = ?').pluck().get(plugin) ?? 0;
    return { rows, view };
  } finally {
    raw.close();
  }
}

// A small deterministic generator, so a failure can be replayed.
function rng(seed) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/**
 * `count` random sets and deletes of `keys` keys (values below `maxValue` bytes; call i deletes
 * with probability deleteRate(i)), each answer checked against an exact model of usage. Returns
 * the modelled usage, how many sets were refused, and how many came with usage + size within half
 * the limit.
 */
function modelRun(s, { limit, seed, count, keys, maxValue, deleteRate }) {
  const rand = rng(seed);
  const model = new Map(); // key -> key+value bytes
  let used = 0;
  let refused = 0;
  let roomy = 0;
  for (let i = 0; i < count; i++) {
    const key = `k${Math.floor(rand() * keys)}`;
    const old = model.get(key) ?? 0;
    if (rand() < deleteRate(i)) {
      assert.equal(s.storageDelete(enc(key)), old ? ABI.OK : ABI.NOT_FOUND, `delete #${i}`);
      used -= old;
      model.delete(key);
      continue;
    }
    const size = key.length + Math.floor(rand() * maxValue);
    const delta = size - old;
    const want = delta <= 0 || used + delta <= limit ? ABI.OK : ABI.QUOTA_EXCEEDED;
    if (used + size <= limit / 2) roomy++;
    assert.equal(s.storageSet(enc(key), new Uint8Array(size - key.length)), want, `set #${i} ${key} (${used} + ${delta})`);
    if (want === ABI.OK) {
      used += delta;
      model.set(key, size);
    } else refused++;
  }
  return { used, refused, roomy };
}

test('many writes near the limit: every answer matches an exact model of usage', () => {
  const file = dbFile();
  const limit = 2 * 1024;
  const s = createWorkerServices(init('model', file, { storage_quota_kb: 2 }));
  const run = modelRun(s, { limit, seed: 20, count: 3000, keys: 40, maxValue: 160, deleteRate: () => 0.15 });
  let used = run.used;
  // Exactly at the limit fits, one byte more does not.
  const room = limit - used;
  if (room >= 2) {
    assert.equal(s.storageSet(enc('z'), new Uint8Array(room)), ABI.QUOTA_EXCEEDED);
    assert.equal(s.storageSet(enc('z'), new Uint8Array(room - 1)), ABI.OK);
    used = limit;
  }
  s.close();
  assert.ok(run.refused > 100, `the run should spend time at the boundary (${run.refused} refused)`);
  assert.deepEqual(rowsAndView(file, 'model'), { rows: used, view: used });
});

test('writes well under the quota skip the look at the row they replace, and no answer changes', () => {
  // A write whose whole size fits is allowed without reading the old row's size; the count then
  // only bounds usage from above. Overwriting one key again and again pushes that bound far past
  // the limit while the rows hold little: neither storage nor KV may be refused for it.
  const file = dbFile();
  const limit = 64 * 1024;
  const s = createWorkerServices(init('bound', file, { storage_quota_kb: 64, kv_namespaces: ['ns'] }));
  for (let i = 0; i < 200; i++) assert.equal(s.storageSet(enc('same'), new Uint8Array(1020)), ABI.OK, `overwrite #${i}`); // 1024 held
  // 1024 (storage) + 2 + 63,410 (KV): 100 bytes left, to the byte.
  assert.equal(s.kvSet('ns', enc('kv'), new Uint8Array(limit - 1024 - 2 - 100)), ABI.OK);
  assert.equal(s.storageSet(enc('x'), new Uint8Array(100)), ABI.QUOTA_EXCEEDED); // 101
  assert.equal(s.storageSet(enc('x'), new Uint8Array(99)), ABI.OK); // 100: full
  assert.equal(s.storageSet(enc('same'), new Uint8Array(1020)), ABI.OK); // same size: no change
  assert.equal(s.storageSet(enc('same'), new Uint8Array(1021)), ABI.QUOTA_EXCEEDED);
  assert.equal(s.storageSet(enc('same'), new Uint8Array(20)), ABI.OK); // frees 1000
  assert.equal(s.kvSet('ns', enc('k2'), new Uint8Array(998)), ABI.OK); // 1000: full again
  assert.equal(s.kvSet('ns', enc('k3'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED);
  s.close();
  assert.deepEqual(rowsAndView(file, 'bound'), { rows: limit, view: limit });

  // And against a model over many writes that cross from well under the quota to its limit and back.
  const file2 = dbFile();
  const t = createWorkerServices(init('bound2', file2, { storage_quota_kb: 64 }));
  const { used, refused, roomy } = modelRun(t, { limit, seed: 7, count: 4000, keys: 60, maxValue: 2048, deleteRate: (i) => (i % 1000 < 500 ? 0.05 : 0.75) });
  t.close();
  assert.ok(refused > 10 && roomy > 300, `the run should reach the limit (${refused} refused) and spend time well under it (${roomy} writes)`);
  assert.deepEqual(rowsAndView(file2, 'bound2'), { rows: used, view: used });
});

test('writes through another connection are seen by the next check, to the byte', () => {
  const file = dbFile();
  const a = createWorkerServices(init('shared', file, { storage_quota_kb: 1 }));
  const b = createWorkerServices(init('shared', file, { storage_quota_kb: 1 }));
  assert.equal(a.storageSet(enc('a'), new Uint8Array(511)), ABI.OK); // 512
  assert.equal(b.storageSet(enc('b'), new Uint8Array(411)), ABI.OK); // 924
  assert.equal(a.storageSet(enc('c'), new Uint8Array(100)), ABI.QUOTA_EXCEEDED); // 1025
  assert.equal(a.storageSet(enc('c'), new Uint8Array(99)), ABI.OK); // 1024
  assert.equal(b.storageDelete(enc('a')), ABI.OK); // 512 left
  assert.equal(a.storageSet(enc('d'), new Uint8Array(512)), ABI.QUOTA_EXCEEDED);
  assert.equal(a.storageSet(enc('d'), new Uint8Array(511)), ABI.OK); // 1024
  // `bext plugin storage --clear` from its own connection frees everything.
  const cli = openStateDb(file);
  assert.deepEqual(clearStorage(cli, 'shared'), { keys: 3, bytes: 1024 });
  cli.close();
  assert.equal(a.storageSet(enc('e'), new Uint8Array(1023)), ABI.OK);
  assert.equal(b.storageSet(enc('f'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED);
  a.close();
  b.close();
  assert.deepEqual(rowsAndView(file, 'shared'), { rows: 1024, view: 1024 });
});

test('storage, KV and queues share one count in a connection', () => {
  const file = dbFile();
  const s = createWorkerServices(init('mixed', file, { storage_quota_kb: 1, kv_namespaces: ['ns'], queue_names: ['q'] }));
  assert.equal(s.storageSet(enc('s'), new Uint8Array(299)), ABI.OK); // 300
  assert.equal(s.kvSet('ns', enc('k'), new Uint8Array(299)), ABI.OK); // 600
  assert.equal(s.queuePublish('q', new Uint8Array(400)), ABI.OK); // 1000
  assert.equal(s.storageSet(enc('t'), new Uint8Array(24)), ABI.QUOTA_EXCEEDED); // 1025
  assert.equal(s.kvSet('ns', enc('l'), new Uint8Array(24)), ABI.QUOTA_EXCEEDED);
  assert.equal(s.storageSet(enc('t'), new Uint8Array(23)), ABI.OK); // 1024
  assert.equal(dec(s.queueConsume('q')).length, 400); // 624
  assert.equal(s.kvSet('ns', enc('l'), new Uint8Array(399)), ABI.OK); // 1024
  assert.equal(s.storageDelete(enc('s')), ABI.OK); // 724
  assert.equal(s.queuePublish('q', new Uint8Array(301)), ABI.QUOTA_EXCEEDED);
  assert.equal(s.queuePublish('q', new Uint8Array(300)), ABI.OK); // 1024
  s.close();
  assert.deepEqual(rowsAndView(file, 'mixed'), { rows: 1024, view: 1024 });
  const db = openStateDb(file);
  assert.equal(usage(db, 'mixed').totalBytes, 1024);
  db.close();
});

test('a state file from before (usage table kept by triggers) is migrated on open, counts intact', () => {
  const file = dbFile();
  const s = createWorkerServices(init('old', file, { kv_namespaces: ['ns'], queue_names: ['q'] }));
  assert.equal(s.storageSet(enc('a'), enc('12345')), ABI.OK); // 6
  assert.equal(s.kvSet('ns', enc('b'), enc('1234')), ABI.OK); // 5
  assert.equal(s.queuePublish('q', enc('123')), ABI.OK); // 3
  s.close();
  // Rewind the file to the old layout: host_usage a table (storage included), old trigger names.
  const raw = new Database(file);
  raw.exec(`
    DROP VIEW host_usage;
    DROP TRIGGER host_kv_usage_ins; DROP TRIGGER host_kv_usage_upd; DROP TRIGGER host_kv_usage_del;
    DROP TRIGGER host_queue_usage_ins; DROP TRIGGER host_queue_usage_del;
    DROP TABLE host_usage_shared;
    CREATE TABLE host_usage (plugin TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO host_usage VALUES ('old', 14);
    CREATE TRIGGER host_storage_ins AFTER INSERT ON host_storage BEGIN
      INSERT INTO host_usage (plugin, bytes) VALUES (NEW.plugin, NEW.size) ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
    END;
    CREATE TRIGGER host_kv_ins AFTER INSERT ON host_kv BEGIN
      INSERT INTO host_usage (plugin, bytes) VALUES (NEW.owner, NEW.size) ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + NEW.size;
    END;`);
  raw.close();
  const again = createWorkerServices(init('old', file, { storage_quota_kb: 1, kv_namespaces: ['ns'], queue_names: ['q'] }));
  assert.equal(again.storageSet(enc('c'), new Uint8Array(1011)), ABI.QUOTA_EXCEEDED); // 14 + 1012
  assert.equal(again.storageSet(enc('c'), new Uint8Array(1009)), ABI.OK); // 1024
  assert.equal(again.kvSet('ns', enc('d'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED);
  assert.equal(dec(again.storageGet(enc('a'))), '12345');
  again.close();
  assert.deepEqual(rowsAndView(file, 'old'), { rows: 1024, view: 1024 });
  const check = new Database(file, { readonly: true });
  const triggers = check.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").pluck().all();
  assert.deepEqual(triggers, ['host_kv_usage_del', 'host_kv_usage_ins', 'host_kv_usage_upd', 'host_queue_usage_del', 'host_queue_usage_ins']);
  check.close();
});
