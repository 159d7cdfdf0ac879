// Durability: a child writes keys and is SIGKILLed mid-stream; every key it reported as written
// (storage_set returned 0) must be in the database afterwards, with its exact value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { tempDir, init, enc, dec } from './harness.js';

const writer = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/crash-writer.js');

function runAndKill(dbPath, plugin, killAfter) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dbPath, plugin], { stdio: ['ignore', 'pipe', 'pipe'] });
    const written = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) if (l.startsWith('key-')) written.push(l);
      if (!killed && written.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
      else resolve(written);
    });
  });
}

test('every write reported before SIGKILL survives it', async () => {
  const dbPath = path.join(tempDir(), '.bext', 'state.db');
  const written = await runAndKill(dbPath, 'crashy', 2000);
  assert.ok(written.length >= 2000);
  const s = createWorkerServices(init('crashy', dbPath, { kv_namespaces: ['crash'] }));
  for (const key of written) {
    const i = Number(key.slice(4));
    const want = `value-${i}-`.padEnd(64 + (i % 200), 'x');
    const got = s.storageGet(enc(key));
    assert.ok(typeof got !== 'number', `${key} was reported written but is missing (${got})`);
    assert.equal(dec(got), want);
    if (i % 3 === 0) assert.equal(dec(s.kvGet('crash', enc(key))), want);
  }
  // The database is consistent after recovery: writes continue and usage matches the rows.
  assert.equal(s.storageSet(enc('after'), enc('crash')), 0);
  s.close();
  const raw = new Database(dbPath, { readonly: true });
  const rows = raw.prepare("SELECT (SELECT total(size) FROM host_storage WHERE plugin='crashy') + (SELECT total(size) FROM host_kv WHERE owner='crashy')").pluck().get();
  assert.equal(raw.prepare("SELECT bytes FROM host_usage WHERE plugin='crashy'").pluck().get(), rows);
  raw.close();
});
