// Shared KV namespaces and durable queues through createWorkerServices on a real SQLite file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { MAX_MESSAGE_BYTES } from '../../dist/host/queues/store.js';
import { ABI } from '../../dist/runtime/abi-codes.js';
import { tempDir, init, enc, dec } from './harness.js';

function pair(permsA, permsB) {
  const db = path.join(tempDir(), '.bext', 'state.db');
  return [createWorkerServices(init('a', db, permsA)), createWorkerServices(init('b', db, permsB)), db];
}

test('two plugins listing the same namespace share it; others get -2', () => {
  const [a, b] = pair({ kv_namespaces: ['shared', 'only-a'] }, { kv_namespaces: ['shared'] });
  assert.equal(a.kvSet('shared', enc('k'), enc('from a')), ABI.OK);
  assert.equal(dec(b.kvGet('shared', enc('k'))), 'from a');
  assert.equal(b.kvSet('shared', enc('k'), enc('from b')), ABI.OK);
  assert.equal(dec(a.kvGet('shared', enc('k'))), 'from b');
  assert.equal(a.kvSet('only-a', enc('k'), enc('secret')), ABI.OK);
  assert.equal(b.kvGet('only-a', enc('k')), ABI.PERMISSION_DENIED);
  assert.equal(b.kvSet('only-a', enc('k'), enc('x')), ABI.PERMISSION_DENIED);
  assert.equal(b.kvDelete('only-a', enc('k')), ABI.PERMISSION_DENIED);
  assert.equal(dec(a.kvGet('only-a', enc('k'))), 'secret');
  // Namespaces are separate from plugin storage and from each other.
  assert.equal(a.storageGet(enc('k')), ABI.NOT_FOUND);
  assert.equal(a.kvGet('shared', enc('nope')), ABI.NOT_FOUND);
  assert.equal(b.kvDelete('shared', enc('k')), ABI.OK);
  assert.equal(a.kvGet('shared', enc('k')), ABI.NOT_FOUND);
  assert.equal(a.kvDelete('shared', enc('k')), ABI.NOT_FOUND);
  assert.equal(a.kvSet('shared', new Uint8Array(0), enc('x')), ABI.INVALID_ARGUMENT);
  assert.equal(a.kvSet('', enc('k'), enc('x')), ABI.PERMISSION_DENIED);
  a.close();
  b.close();
});

test('KV quota counts against the writing plugin, at the exact boundary', () => {
  const [a, b] = pair({ kv_namespaces: ['ns'], storage_quota_kb: 1 }, { kv_namespaces: ['ns'], storage_quota_kb: 1 });
  // a fills its quota exactly with storage + kv together.
  assert.equal(a.storageSet(enc('s'), new Uint8Array(511)), ABI.OK); // 512
  assert.equal(a.kvSet('ns', enc('k'), new Uint8Array(512)), ABI.QUOTA_EXCEEDED); // 512 + 513
  assert.equal(a.kvSet('ns', enc('k'), new Uint8Array(511)), ABI.OK); // 1024
  assert.equal(a.kvSet('ns', enc('x'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED);
  // b writing into the same namespace is charged to b, not a.
  assert.equal(b.kvSet('ns', enc('other'), new Uint8Array(1000)), ABI.OK);
  // b overwriting a's entry takes it over: b pays 513 more (b: 1005 + 513 > 1024 → refused) ...
  assert.equal(b.kvSet('ns', enc('k'), new Uint8Array(512)), ABI.QUOTA_EXCEEDED);
  assert.equal(b.kvDelete('ns', enc('other')), ABI.OK);
  // ... and once it fits, a is refunded the whole entry.
  assert.equal(b.kvSet('ns', enc('k'), new Uint8Array(1023)), ABI.OK); // b: 1024
  assert.equal(a.storageSet(enc('t'), new Uint8Array(511)), ABI.OK); // a: 512 + 512 = 1024
  assert.equal(a.storageSet(enc('u'), new Uint8Array(0)), ABI.QUOTA_EXCEEDED);
  // Deleting a KV entry (by anyone allowed) refunds its owner.
  assert.equal(a.kvDelete('ns', enc('k')), ABI.OK);
  assert.equal(b.storageSet(enc('s'), new Uint8Array(1023)), ABI.OK);
  a.close();
  b.close();
});

test('queues: FIFO across plugins, durable across reopen, -1 when empty', () => {
  const [a, b, db] = pair({ queue_names: ['events'] }, { queue_names: ['events'] });
  assert.equal(b.queueConsume('events'), ABI.NOT_FOUND);
  for (let i = 0; i < 5; i++) assert.equal(a.queuePublish('events', enc(`m${i}`)), ABI.OK);
  assert.equal(dec(b.queueConsume('events')), 'm0');
  assert.equal(dec(a.queueConsume('events')), 'm1');
  a.close();
  b.close();
  const again = createWorkerServices(init('c', db, { queue_names: ['events'] }));
  assert.deepEqual([0, 1, 2].map(() => dec(again.queueConsume('events'))), ['m2', 'm3', 'm4']);
  assert.equal(again.queueConsume('events'), ABI.NOT_FOUND);
  again.close();
});

test('queues: names not in queue_names are -2; 256 KiB is the largest message (-6 above)', () => {
  const [a, b] = pair({ queue_names: ['q'] }, { queue_names: [] });
  assert.equal(b.queuePublish('q', enc('x')), ABI.PERMISSION_DENIED);
  assert.equal(b.queueConsume('q'), ABI.PERMISSION_DENIED);
  assert.equal(a.queuePublish('other', enc('x')), ABI.PERMISSION_DENIED);
  assert.equal(MAX_MESSAGE_BYTES, 262144);
  assert.equal(a.queuePublish('q', new Uint8Array(MAX_MESSAGE_BYTES + 1)), ABI.TOO_LARGE);
  assert.equal(a.queueConsume('q'), ABI.NOT_FOUND);
  assert.equal(a.queuePublish('q', new Uint8Array(MAX_MESSAGE_BYTES).fill(3)), ABI.OK);
  assert.equal(a.queuePublish('q', new Uint8Array(0)), ABI.OK);
  const m = a.queueConsume('q');
  assert.equal(m.length, MAX_MESSAGE_BYTES);
  assert.equal(m[MAX_MESSAGE_BYTES - 1], 3);
  assert.equal(a.queueConsume('q').length, 0);
  a.close();
  b.close();
});

test('queued messages count against the publisher until consumed', () => {
  const [a, b] = pair({ queue_names: ['q'], storage_quota_kb: 1 }, { queue_names: ['q'], storage_quota_kb: 1 });
  assert.equal(a.queuePublish('q', new Uint8Array(1000)), ABI.OK);
  assert.equal(a.queuePublish('q', new Uint8Array(25)), ABI.QUOTA_EXCEEDED);
  assert.equal(a.queuePublish('q', new Uint8Array(24)), ABI.OK); // exactly 1024
  assert.equal(b.queueConsume('q').length, 1000); // consumed by b: a is refunded
  assert.equal(a.storageSet(enc('k'), new Uint8Array(999)), ABI.OK); // 24 + 1000 = 1024
  a.close();
  b.close();
});
