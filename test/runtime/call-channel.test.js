// The shared-memory hook channel (src/runtime/call-channel.ts): the protocol alone between this
// thread and a worker, then through a real plugin: arguments too big for it fall back to a
// message, a worker killed or timed out mid-call fails that call cleanly, queued calls each get
// their own arguments, logs arrive before the result, a call racing close, and every outcome
// the same as over messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createCallChannel, CHANNEL_BYTES } from '../../dist/runtime/call-channel.js';
import { load, mod, data, LOG_IMPORT } from './helpers.js';

// A worker serving the channel: run() answers with what it received; a report with a stack goes
// as a message (posted on parentPort); any message to the worker is answered with 'pong'.
const ECHO_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
let posted = 0;
parentPort.on('message', (m) => { posted++; parentPort.postMessage({ type: 'pong', m }); });
import(workerData.module).then(({ serveCalls }) => serveCalls(workerData.buffer, {
  run(call) {
    const text = call.strings.map((s) => new TextDecoder().decode(s));
    const report = { outcome: 'ok', fuelUsed: call.budget, wallUs: call.tail[0] ?? -1, message: call.hook + '|' + text.join('|') };
    if (text[0] === 'with-stack') report.stack = ['f @ 0x1'];
    return report;
  },
  postResult(id, report) { posted++; parentPort.postMessage({ type: 'result', id, report }); },
  // A batch: each call's text is collected; a call whose text is 'fail' fails.
  runBatch(n, next) {
    const failed = [];
    const texts = [];
    for (let i = 0; i < n; i++) {
      const call = next();
      const text = call.hook + '|' + call.budget + '|' + call.strings.map((s) => new TextDecoder().decode(s)).join('|') + '|' + call.tail.join(',');
      texts.push(text);
      if (text.includes('|fail|')) failed.push({ index: i, report: { outcome: 'error', fuelUsed: 0, wallUs: 0, message: text } });
    }
    posted++;
    parentPort.postMessage({ type: 'batch_texts', texts });
    return { count: n, failed };
  },
  postBatchResult(id, outcome) { posted++; parentPort.postMessage({ type: 'batch_result', id, ...outcome }); },
  posted: () => posted,
}, workerData.hotWaitMs));`;

async function echoWorker(t, hotWaitMs) {
  const ch = createCallChannel();
  const worker = new Worker(ECHO_WORKER, { eval: true, workerData: { buffer: ch.buffer, module: new URL('../../dist/runtime/call-channel.js', import.meta.url).href, hotWaitMs } });
  t.after(async () => {
    ch.release();
    await worker.terminate();
  });
  const messages = [];
  let wake = null;
  worker.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async () => {
    while (messages.length === 0) await new Promise((r) => (wake = r));
    return messages.shift();
  };
  return { ch, worker, next };
}

test('channel protocol: every hook\'s arguments arrive as UTF-8 bytes; results come back inline or as a message', async (t) => {
  const { ch, next } = await echoWorker(t);
  assert.equal(ch.post(1, { hook: 'on_request_complete', eventJson: '{"path":"/é✓😀"}' }, 123), true);
  assert.deepEqual(await ch.result(1), { outcome: 'ok', fuelUsed: 123, wallUs: -1, message: 'on_request_complete|{"path":"/é✓😀"}' });
  assert.equal(ch.post(2, { hook: 'on_cache_write', key: 'k1', tagsJson: '["a","b"]' }, 5), true);
  assert.equal((await ch.result(2)).message, 'on_cache_write|k1|["a","b"]');
  assert.equal(ch.post(3, { hook: 'on_cache_invalidate', pattern: '/blog/*', count: 7 }, 5), true);
  assert.deepEqual(await ch.result(3), { outcome: 'ok', fuelUsed: 5, wallUs: 7, message: 'on_cache_invalidate|/blog/*' });
  assert.equal(ch.post(4, { hook: 'cleanup' }, 9), true);
  assert.equal((await ch.result(4)).message, 'cleanup|');

  // More than the fixed fields: the report travels as a message and result() says so with null.
  assert.equal(ch.post(5, { hook: 'on_request_complete', eventJson: 'with-stack' }, 1), true);
  assert.equal(await ch.result(5), null);
  assert.deepEqual(await next(), { type: 'result', id: 5, report: { outcome: 'ok', fuelUsed: 1, wallUs: -1, message: 'on_request_complete|with-stack', stack: ['f @ 0x1'] } });
  // The next inline result after a message still works.
  assert.equal(ch.post(6, { hook: 'on_reload' }, 2), true);
  assert.equal((await ch.result(6)).message, 'on_reload|');
});

test('channel protocol: arguments bigger than the buffer are refused (the caller sends a message)', async (t) => {
  const { ch } = await echoWorker(t);
  assert.equal(ch.post(1, { hook: 'on_request_complete', eventJson: 'x'.repeat(CHANNEL_BYTES) }, 1), false);
  // Two strings that fit alone but not together; multibyte text counted in bytes, not characters.
  assert.equal(ch.post(1, { hook: 'on_cache_write', key: 'k'.repeat(CHANNEL_BYTES / 2), tagsJson: 't'.repeat(CHANNEL_BYTES / 2) }, 1), false);
  assert.equal(ch.post(1, { hook: 'on_request_complete', eventJson: '😀'.repeat(CHANNEL_BYTES / 4) }, 1), false);
  // A refused call leaves the channel usable.
  assert.equal(ch.post(1, { hook: 'on_request_complete', eventJson: 'small' }, 1), true);
  assert.equal((await ch.result(1)).message, 'on_request_complete|small');
});

test('channel protocol: mail wakes a worker sleeping between calls so its messages are delivered', async (t) => {
  // The worker would sleep 10 minutes in Atomics.wait after a call if nothing rang the bell.
  const { ch, worker, next } = await echoWorker(t, 600_000);
  assert.equal(ch.post(1, { hook: 'on_reload' }, 1), true);
  assert.equal((await ch.result(1)).message, 'on_reload|');
  worker.postMessage('ping');
  ch.mail();
  assert.deepEqual(await next(), { type: 'pong', m: 'ping' });
  // Calls still go through after the worker went back to its event loop. The worker posted since
  // the last result (the pong), so this result follows it as a message; the next one is inline.
  assert.equal(ch.post(2, { hook: 'cleanup' }, 1), true);
  assert.equal(await ch.result(2), null);
  assert.equal((await next()).report.message, 'cleanup|');
  assert.equal(ch.post(3, { hook: 'on_reload' }, 1), true);
  assert.equal((await ch.result(3)).message, 'on_reload|');
});

test('channel protocol: a batch arrives call by call as bytes; its result is inline only when every call was ok and nothing was posted', async (t) => {
  const { ch, next } = await echoWorker(t);
  const batch = [
    { hook: 'on_request_complete', eventJson: '{"path":"/é✓😀"}' },
    { hook: 'on_cache_write', key: 'k', tagsJson: '[]' },
    { hook: 'on_cache_invalidate', pattern: '/b/*', count: 3 },
    { hook: 'cleanup' },
  ];
  assert.equal(ch.postBatch(1, batch, [10, 20, 30, 40]), 4);
  // The echo worker posts the texts it read (a message), so the result must follow it by message.
  assert.equal(await ch.batchResult(1), null);
  assert.deepEqual((await next()).texts, ['on_request_complete|10|{"path":"/é✓😀"}|', 'on_cache_write|20|k|[]|', 'on_cache_invalidate|30|/b/*|3', 'cleanup|40||']);
  assert.deepEqual(await next(), { type: 'batch_result', id: 1, count: 4, failed: [] });
  // A failed call: its report goes by message.
  assert.equal(ch.postBatch(2, [{ hook: 'on_request_complete', eventJson: 'fail' }], [1]), 1);
  assert.equal(await ch.batchResult(2), null);
  await next();
  assert.deepEqual((await next()).failed, [{ index: 0, report: { outcome: 'error', fuelUsed: 0, wallUs: 0, message: 'on_request_complete|1|fail|' } }]);
  // A first call too big for the buffer, or none: nothing is sent (the caller sends a message).
  assert.equal(ch.postBatch(3, [{ hook: 'on_request_complete', eventJson: 'x'.repeat(CHANNEL_BYTES) }], [1]), 0);
  assert.equal(ch.postBatch(3, [], []), 0);
  assert.equal(ch.post(3, { hook: 'on_reload' }, 2), true);
  assert.equal((await ch.result(3)).message, 'on_reload|', 'inline again: the batch result followed what the batch posted');
  // Only the calls that fit are sent; the caller sends the rest next.
  const half = 'h'.repeat(CHANNEL_BYTES / 2);
  assert.equal(ch.postBatch(4, [{ hook: 'on_request_complete', eventJson: half }, { hook: 'on_request_complete', eventJson: half }, { hook: 'cleanup' }], [1, 2, 3]), 1);
  assert.equal(await ch.batchResult(4), null);
  assert.deepEqual((await next()).texts, [`on_request_complete|1|${half}|`]);
  assert.equal((await next()).count, 1);
});

test('channel protocol: release() ends a wait for a result that will never come', async (t) => {
  const { ch, worker } = await echoWorker(t);
  await worker.terminate();
  assert.equal(ch.post(1, { hook: 'on_reload' }, 1), true);
  const waiting = ch.result(1);
  ch.release();
  assert.equal(await waiting, null);
});

// Returns a position-weighted checksum of its argument bytes, so a wrong or stale argument shows.
const CHECKSUM = `
  (func $sum (param $p i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.mul (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.add (local.get $i) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.or (local.get $s) (i32.const 1)))
  (func (export "on_request_complete") (param i32 i32) (result i32) (call $sum (local.get 0) (local.get 1)))
  (func (export "on_cache_write") (param i32 i32 i32 i32) (result i32) (i32.add (call $sum (local.get 0) (local.get 1)) (call $sum (local.get 2) (local.get 3))))
  (func (export "on_cache_invalidate") (param i32 i32 i32) (result i32) (i32.add (call $sum (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "on_reload") (loop $forever (br $forever)))`;

function sum(text) {
  let s = 0;
  Buffer.from(text, 'utf8').forEach((b, i) => (s = (s + Math.imul(b, i + 1)) | 0));
  return s | 1;
}

const code = (r) => Number(r.message?.match(/returned error code (-?\d+)$/)?.[1]);

for (const hookChannel of ['shared', 'message']) {
  test(`${hookChannel} channel: big and small arguments, every hook shape, arrive intact`, async () => {
    const { handle } = await load(mod(CHECKSUM), { fuel: { on_request_complete: 1e12 } }, { hookChannel });
    try {
      for (const text of ['{}', '{"path":"/é✓😀"}', 'x'.repeat(CHANNEL_BYTES - 200), 'y'.repeat(CHANNEL_BYTES), '😀'.repeat(100_000)]) {
        const r = await handle.call({ hook: 'on_request_complete', eventJson: text });
        assert.equal(r.outcome, 'error');
        assert.equal(code(r), sum(text), `${text.length} characters`);
        assert.ok(r.fuelUsed > 0);
      }
      const w = await handle.call({ hook: 'on_cache_write', key: 'key', tagsJson: '["t"]' });
      assert.equal(code(w), (sum('key') + sum('["t"]')) | 0);
      const i = await handle.call({ hook: 'on_cache_invalidate', pattern: '/a/*', count: 41 });
      assert.equal(code(i), (sum('/a/*') + 41) | 0);
    } finally {
      await handle.close();
    }
  });

  test(`${hookChannel} channel: a batch of every hook shape and size, bigger than the buffer too, arrives intact`, async () => {
    const { handle, calls } = await load(mod(CHECKSUM), { fuel: { on_request_complete: 1e12 } }, { hookChannel });
    try {
      const small = Array.from({ length: 150 }, (_, k) => ({ hook: 'on_request_complete', eventJson: `{"n":${k},"p":"${'é'.repeat(k % 7)}"}` }));
      const mixed = [
        { hook: 'on_cache_write', key: 'key', tagsJson: '["t"]' },
        { hook: 'on_cache_invalidate', pattern: '/a/*', count: 41 },
        { hook: 'on_request_complete', eventJson: '' },
        { hook: 'on_request_complete', eventJson: 'y'.repeat(CHANNEL_BYTES) },
        { hook: 'on_request_complete', eventJson: '😀'.repeat(3000) },
      ];
      // 40 calls of 3 KB: more than one channel batch holds, so they are split between batches.
      const wide = Array.from({ length: 40 }, (_, k) => ({ hook: 'on_request_complete', eventJson: `${k}`.padEnd(3000, 'z') }));
      const list = [...small.slice(0, 70), ...mixed, ...wide, ...small.slice(70)];
      const want = list.map((a) => (a.hook === 'on_cache_write' ? (sum(a.key) + sum(a.tagsJson)) | 0 : a.hook === 'on_cache_invalidate' ? (sum(a.pattern) + a.count) | 0 : sum(a.eventJson)));
      const results = await handle.callBatch(list);
      assert.equal(results.length, list.length);
      assert.deepEqual(results.map(code), want);
      assert.deepEqual(calls.map(code), want, 'onCall saw them in order');
      // The same calls one by one meter the same fuel.
      const single = await handle.call(list[3]);
      assert.equal(single.fuelUsed, results[3].fuelUsed);
    } finally {
      await handle.close();
    }
  });

  test(`${hookChannel} channel: many calls queued at once each get their own arguments, in order`, async () => {
    const { handle, calls } = await load(mod(CHECKSUM), {}, { hookChannel });
    try {
      const texts = Array.from({ length: 300 }, (_, k) => `{"n":${k},"pad":"${'p'.repeat(k % 50)}"}`);
      const results = await Promise.all(texts.map((eventJson) => handle.call({ hook: 'on_request_complete', eventJson })));
      assert.deepEqual(results.map(code), texts.map(sum));
      assert.deepEqual(calls.map(code), texts.map(sum), 'onCall saw them in call order');
    } finally {
      await handle.close();
    }
  });

  test(`${hookChannel} channel: a timeout mid-call terminates the worker; the replacement serves the next call`, async () => {
    const { handle } = await load(mod(CHECKSUM), { limits: { timeout_ms: 300 }, fuel: { on_reload: 1e15 } }, { hookChannel });
    try {
      assert.equal(code(await handle.call({ hook: 'on_request_complete', eventJson: 'a' })), sum('a'));
      const queued = handle.call({ hook: 'on_request_complete', eventJson: 'queued behind the stuck call' });
      const r = await handle.call({ hook: 'on_reload' });
      assert.equal(r.outcome, 'timeout');
      assert.match(r.message, /on_reload exceeded timeout_ms of 300 ms wall time/);
      assert.equal(code(await queued), sum('queued behind the stuck call'));
    } finally {
      await handle.close();
    }
  });

  test(`${hookChannel} channel: a worker killed mid-call or between calls fails only that call`, async () => {
    const { handle } = await load(mod(CHECKSUM), { fuel: { on_reload: 1e15 } }, { hookChannel });
    try {
      const stuck = handle.call({ hook: 'on_reload' });
      await new Promise((r) => setTimeout(r, 100));
      await handle.live.worker.terminate();
      const r = await stuck;
      assert.equal(r.outcome, 'crashed');
      assert.match(r.message, /worker exited/);
      assert.equal(code(await handle.call({ hook: 'on_request_complete', eventJson: 'b' })), sum('b'));
      // Between calls (the worker sleeps waiting for the next one).
      await handle.live.worker.terminate();
      assert.equal(code(await handle.call({ hook: 'on_request_complete', eventJson: 'c' })), sum('c'));
    } finally {
      await handle.close();
    }
  });

  test(`${hookChannel} channel: a call in flight when close starts finishes; calls queued behind it are refused`, async () => {
    const { handle } = await load(mod(CHECKSUM), {}, { hookChannel });
    const inFlight = handle.call({ hook: 'on_request_complete', eventJson: 'r0' });
    const queued = Array.from({ length: 9 }, (_, i) => handle.call({ hook: 'on_request_complete', eventJson: `r${i + 1}` }));
    await new Promise((r) => setImmediate(r)); // r0 is posted to the worker by now
    const closing = handle.close();
    const late = handle.call({ hook: 'on_request_complete', eventJson: 'late' });
    assert.equal(code(await inFlight), sum('r0'));
    // Calls the host had already handed to the worker when close started finish with their own
    // results (a fast worker can answer several before this test's next tick: on the shared
    // channel a result already written is read without waiting); every call after them is refused.
    const results = await Promise.all(queued);
    let ran = results.findIndex((r) => r.outcome === 'crashed');
    if (ran < 0) ran = results.length;
    results.slice(0, ran).forEach((r, i) => assert.equal(code(r), sum(`r${i + 1}`), JSON.stringify(r)));
    for (const r of [...results.slice(ran), await late]) {
      assert.equal(r.outcome, 'crashed', JSON.stringify(r));
      assert.equal(r.message, 'plugin is closed');
    }
    await closing;
  });
}

test('logs and metrics a call emits are delivered before its result, on both channels', async () => {
  const body = `${data(0, 'info')} ${data(16, 'req')} ${data(32, 'hits')} ${data(48, '{}')}
    (func (export "on_request_complete") (param i32 i32) (result i32)
      (call $log (i32.const 0) (i32.const 4) (local.get 0) (local.get 1))
      (call $metric (i32.const 32) (i32.const 4) (f64.const 1) (i32.const 48) (i32.const 2))
      (i32.const 0))
    (func (export "on_reload") (result i32) (i32.const 0))`;
  const imports = `${LOG_IMPORT} (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))`;
  for (const hookChannel of ['shared', 'message']) {
    const { handle, logs, metrics } = await load(mod(body, { imports }), {}, { hookChannel });
    try {
      for (let k = 0; k < 50; k++) {
        assert.equal((await handle.call({ hook: 'on_request_complete', eventJson: `e${k}` })).outcome, 'ok');
        assert.equal(logs.filter((l) => l.source === 'guest').at(-1)?.msg, `e${k}`, `${hookChannel}: log of call ${k} before its result`);
        assert.equal(metrics.length, k + 1, `${hookChannel}: metric of call ${k} before its result`);
        // A quiet call after a noisy one takes the inline path again.
        assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'ok');
      }
    } finally {
      await handle.close();
    }
  }
});

test('every outcome reads the same over both channels (traps keep stacks, errors their message)', async () => {
  const body = `${data(0, 'custom failure')}
    (func (export "on_request_complete") (param i32 i32) (result i32) (i32.const 3))
    (func (export "cleanup") (result i64) (i64.const 14))
    (func $deep (export "on_reload") (unreachable))
    (func (export "on_server_stop") (loop $l (br $l)))`;
  const seen = {};
  for (const hookChannel of ['shared', 'message']) {
    const { handle } = await load(mod(body), { fuel: { on_server_stop: 10_000 } }, { hookChannel });
    try {
      const rs = [
        await handle.call({ hook: 'on_request_complete', eventJson: '{}' }),
        await handle.call({ hook: 'cleanup' }),
        await handle.call({ hook: 'on_reload' }),
        await handle.call({ hook: 'on_server_stop' }),
        await handle.call({ hook: 'on_cache_write', key: 'k', tagsJson: '[]' }),
      ];
      seen[hookChannel] = rs.map(({ wallUs, ...r }) => {
        assert.ok(wallUs >= 0);
        return r;
      });
    } finally {
      await handle.close();
    }
  }
  assert.deepEqual(seen.shared, seen.message);
  assert.deepEqual(seen.shared.map((r) => r.outcome), ['error', 'error', 'trap', 'out_of_fuel', 'ok']);
  assert.equal(seen.shared[4].skipped, true);
  assert.ok(seen.shared[2].stack.length > 0, 'a trap keeps its stack');
});

test('with polling off (hookPoll: false) calls and batches read the same as with it', async () => {
  const seen = {};
  for (const hookPoll of [true, false]) {
    const { handle } = await load(mod(CHECKSUM), {}, { hookChannel: 'shared', hookPoll });
    try {
      const texts = Array.from({ length: 40 }, (_, k) => `{"k":${k}}`);
      const single = [];
      for (const eventJson of texts) single.push(code(await handle.call({ hook: 'on_request_complete', eventJson })));
      const batch = (await handle.callBatch(texts.map((eventJson) => ({ hook: 'on_request_complete', eventJson })))).map(code);
      seen[hookPoll] = { single, batch };
    } finally {
      await handle.close();
    }
  }
  assert.deepEqual(seen.false, seen.true);
  assert.equal(seen.true.single[7], sum('{"k":7}'));
  assert.deepEqual(seen.true.batch, seen.true.single);
});
