// Quota under contention: several threads write as the same plugin at once (as when a worker is
// being replaced); the check-and-write is one transaction, so the total never exceeds the quota.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { tempDir } from './harness.js';

const racer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/quota-racer.js');

test('concurrent writers as one plugin never exceed its quota', async (t) => {
  const dbPath = path.join(tempDir(), '.bext', 'state.db');
  const quotaKb = 16; // 16,384 bytes
  const valueBytes = 200; // + 6-byte key = 206 per entry → at most 79 entries fit
  const start = new SharedArrayBuffer(4);
  const workers = ['a', 'b', 'c'].map((prefix) => new Worker(racer, {
    workerData: { dbPath, plugin: 'racy', prefix: `${prefix}-`, count: 60, valueBytes, quotaKb, start },
  }));
  // A worker that failed leaves the others waiting for the start signal: end them all.
  t.after(() => Promise.all(workers.map((w) => w.terminate())));
  // Each worker says "ready" once its database is open, then waits for the start signal.
  const ready = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  assert.deepEqual(await Promise.all(ready), ['ready', 'ready', 'ready']);
  const results = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  const done = await Promise.all(results);
  const written = done.flatMap((d) => d.ok);
  const refused = done.reduce((n, d) => n + (d.codes['-3'] ?? 0), 0);
  const other = done.flatMap((d) => Object.keys(d.codes).filter((c) => c !== '0' && c !== '-3'));
  assert.deepEqual(other, [], 'only 0 and -3 expected');
  assert.equal(written.length, Math.floor((quotaKb * 1024) / 206));
  assert.equal(written.length + refused, 180);
  const raw = new Database(dbPath, { readonly: true });
  const stored = raw.prepare("SELECT (SELECT total(size) FROM host_storage WHERE plugin='racy') + (SELECT total(size) FROM host_kv WHERE owner='racy')").pluck().get();
  assert.equal(stored, written.length * 206);
  assert.equal(raw.prepare("SELECT bytes FROM host_usage WHERE plugin='racy'").pluck().get(), stored);
  raw.close();
});
