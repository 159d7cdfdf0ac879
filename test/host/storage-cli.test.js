// `bext plugin storage NAME` against a real state.db written through createWorkerServices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bext, BIN } from '../helpers/cli.js';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { openStateDb } from '../../dist/host/state-db.js';
import { getValue, listKeys, usage } from '../../dist/host/storage/inspect.js';
import { tempDir, init, enc } from './harness.js';

function project() {
  const dir = tempDir('bext-storage-cli-');
  fs.writeFileSync(path.join(dir, 'bext.config.toml'), `
[plugins.counter]
path = "./counter.wasm"
[plugins.counter.permissions]
storage_quota_kb = 2
kv_namespaces = ["shared"]
queue_names = ["jobs"]

[plugins.other]
path = "./other.wasm"
`);
  return dir;
}

function fill(dir) {
  const s = createWorkerServices(init('counter', path.join(dir, '.bext', 'state.db'), { storage_quota_kb: 2, kv_namespaces: ['shared'], queue_names: ['jobs'] }));
  assert.equal(s.storageSet(enc('visits'), enc('42')), 0);
  assert.equal(s.storageSet(enc('blob'), new Uint8Array([0, 255, 1])), 0);
  assert.equal(s.storageSet(enc('greeting'), enc('héllo\n')), 0);
  assert.equal(s.kvSet('shared', enc('k'), enc('vvvv')), 0);
  assert.equal(s.queuePublish('jobs', enc('job-1')), 0);
  s.close();
}

test('lists keys with sizes and quota usage (text and JSON)', () => {
  const dir = project();
  fill(dir);
  const r = bext(['plugin', 'storage', 'counter'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  // storage: visits 6+2, blob 4+3, greeting 8+7 = 30; the KV entry 1+4 = 5; the queued message 5.
  assert.match(r.stdout, /^plugin counter: 3 keys, 40 bytes used of 2,048 quota \(2\.0%\)$/m);
  assert.match(r.stdout, /shared KV entry \(5 bytes\) in shared/);
  assert.match(r.stdout, /1 unconsumed queue message \(5 bytes\) in jobs/);
  assert.match(r.stdout, /^blob\s+7$/m);
  assert.match(r.stdout, /^greeting\s+15$/m);
  assert.match(r.stdout, /^visits\s+8$/m);
  const j = bext(['plugin', 'storage', 'counter', '--json'], { cwd: dir });
  const data = JSON.parse(j.stdout);
  assert.equal(data.used_bytes, 40);
  assert.equal(data.quota_bytes, 2048);
  assert.deepEqual(data.keys.map((k) => [k.key, k.size, k.value_bytes]), [['blob', 7, 3], ['greeting', 15, 7], ['visits', 8, 2]]);
});

test('--get prints exact bytes; --json gives text or base64; missing keys exit 1 with a suggestion', () => {
  const dir = project();
  fill(dir);
  const r = bext(['plugin', 'storage', 'counter', '--get', 'greeting'], { cwd: dir });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'héllo\n', 'exact bytes; a value ending in a newline gets no second one');
  assert.deepEqual(JSON.parse(bext(['plugin', 'storage', 'counter', '--get', 'visits', '--json'], { cwd: dir }).stdout), { plugin: 'counter', key: 'visits', size: 2, value: '42' });
  const b = JSON.parse(bext(['plugin', 'storage', 'counter', '--get', 'blob', '--json'], { cwd: dir }).stdout);
  assert.deepEqual([...Buffer.from(b.value_base64, 'base64')], [0, 255, 1]);
  const miss = bext(['plugin', 'storage', 'counter', '--get', 'visit'], { cwd: dir });
  assert.equal(miss.code, 1);
  assert.match(miss.stderr, /^bext: plugin counter has no key "visit"\n\s+did you mean "visits"\?/);
});

test('--get ends text with one newline on a pipe too; other bytes and --raw stay exact', () => {
  const dir = project();
  fill(dir);
  // stdout is a pipe here, not a terminal.
  const text = bext(['plugin', 'storage', 'counter', '--get', 'visits'], { cwd: dir });
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, '42\n');
  // A value that ends in a newline gets no second one: --get greeting, in the test above.
  const raw = bext(['plugin', 'storage', 'counter', '--get', 'visits', '--raw'], { cwd: dir });
  assert.equal(raw.stdout, '42');
  const bin = spawnSync(process.execPath, [BIN, 'plugin', 'storage', 'counter', '--get', 'blob'], { cwd: dir });
  assert.equal(bin.status, 0, String(bin.stderr));
  assert.deepEqual([...bin.stdout], [0, 255, 1], 'bytes that are not UTF-8 print exactly');
  const misuse = bext(['plugin', 'storage', 'counter', '--raw'], { cwd: dir });
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /--raw only applies with --get/);
});

test('--clear deletes only that plugin\'s keys, and only when asked', () => {
  const dir = project();
  fill(dir);
  const o = createWorkerServices(init('other', path.join(dir, '.bext', 'state.db')));
  assert.equal(o.storageSet(enc('mine'), enc('keep')), 0);
  o.close();
  const c = bext(['plugin', 'storage', 'counter', '--clear'], { cwd: dir });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /plugin counter: cleared 3 keys \(30 bytes\); shared KV and queues were left alone/);
  // What is left, read with the functions the listing and --get above print from.
  const db = openStateDb(path.join(dir, '.bext', 'state.db'));
  try {
    assert.equal(listKeys(db, 'counter').length, 0);
    assert.equal(usage(db, 'counter').totalBytes, 10); // the KV entry and the queued message remain
    assert.equal(getValue(db, 'other', 'mine')?.toString(), 'keep');
  } finally {
    db.close();
  }
  // The quota is free again for the plugin itself.
  const s = createWorkerServices(init('counter', path.join(dir, '.bext', 'state.db'), { storage_quota_kb: 2 }));
  assert.equal(s.storageSet(enc('big'), new Uint8Array(2048 - 10 - 3)), 0);
  s.close();
});

test('usage errors: unknown plugin (with suggestion), --get with --clear, bad key; no state.db is not an error', () => {
  const dir = project();
  const none = bext(['plugin', 'storage', 'counter'], { cwd: dir });
  assert.equal(none.code, 0);
  assert.match(none.stdout, /nothing stored yet/);
  assert.equal(fs.existsSync(path.join(dir, '.bext', 'state.db')), false);
  const unknown = bext(['plugin', 'storage', 'countr'], { cwd: dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^bext: unknown plugin "countr"/);
  assert.match(unknown.stderr, /did you mean "counter"\?/);
  const both = bext(['plugin', 'storage', 'counter', '--get', 'a', '--clear'], { cwd: dir });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--get and --clear cannot be used together/);
  const badKey = bext(['plugin', 'storage', 'counter', '--get', 'x'.repeat(600)], { cwd: dir });
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /at most 512 bytes/);
});
