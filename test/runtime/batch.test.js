// callBatch: several hook calls in one round trip to the worker, each metered and reported on
// its own; a timeout ends the batch at the call that timed out and the rest is not run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, mod, data } from './helpers.js';
import { MAX_BATCH } from '../../dist/runtime/batch-progress.js';

// on_request_complete: "T..." traps, "W..." waits on http_fetch (answered or not by the test),
// anything else reads every byte (fuel grows with the length).
const PLUGIN = mod(
  `${data(32, '{"url":"https://x.example/"}')}
  (func (export "on_request_complete") (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $sum i32) (local $c i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u (local.get $p)))
    (if (i32.eq (local.get $c) (i32.const 84)) (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 87)) (then (drop (call $fetch (i32.const 32) (i32.const 28))) (return (i32.const 0))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))`,
  { imports: '(import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))' },
);

const ev = (eventJson) => ({ hook: 'on_request_complete', eventJson });

test('a batch reports every call on its own, with the same fuel as single calls', async () => {
  const { handle, calls } = await load(PLUGIN, { limits: { timeout_ms: 5000 } });
  try {
    const results = await handle.callBatch([ev('a'.repeat(10)), ev('T'), ev('a'.repeat(200)), ev('')]);
    assert.deepEqual(results.map((r) => r.outcome), ['ok', 'trap', 'ok', 'ok']);
    assert.equal(results[1].trapKind, 'unreachable');
    assert.ok(results[1].message, 'a failed call keeps its message');
    const single = await handle.call(ev('a'.repeat(200)));
    assert.equal(results[2].fuelUsed, single.fuelUsed, 'metered exactly as a single call');
    assert.ok(results[2].fuelUsed > results[0].fuelUsed * 5);
    assert.ok(results.every((r) => r.hook === 'on_request_complete' && r.plugin === 'p' && r.budget > 0 && r.wallUs >= 0));
    assert.equal(calls.length, 5, 'each call reported to onCall');
  } finally {
    await handle.close();
  }
});

test('timeout_ms applies to each call of a batch, not to the batch', async () => {
  const { handle } = await load(PLUGIN, { limits: { timeout_ms: 1000 } }, {
    onMainCall: () => new Promise((resolve) => setTimeout(() => resolve(JSON.stringify({ status: 0, error: 'no' })), 300)),
  });
  try {
    const t0 = Date.now();
    const results = await handle.callBatch([ev('W1'), ev('W2'), ev('W3'), ev('W4'), ev('W5')]);
    assert.ok(Date.now() - t0 >= 1200, 'the batch ran longer than timeout_ms');
    assert.deepEqual(results.map((r) => r.outcome), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.ok(results.every((r) => r.wallUs >= 250_000));
  } finally {
    await handle.close();
  }
});

test('a call that times out ends the batch; earlier calls keep their stats, later ones do not run', async () => {
  let fetches = 0;
  const { handle, calls } = await load(PLUGIN, { limits: { timeout_ms: 500 } }, {
    onMainCall: () => {
      fetches++;
      return new Promise(() => {}); // never answers
    },
  });
  try {
    const warm = await handle.call(ev('a'.repeat(50)));
    const t0 = Date.now();
    const results = await handle.callBatch([ev('a'.repeat(50)), ev('T'), ev('W'), ev('a'), ev('b')]);
    const took = Date.now() - t0;
    assert.deepEqual(results.map((r) => r.outcome), ['ok', 'trap', 'timeout']);
    assert.equal(results[0].fuelUsed, warm.fuelUsed, 'fuel of a call before the timeout is exact');
    assert.match(results[2].message, /on_request_complete exceeded timeout_ms of 500 ms wall time; the worker was terminated and will be replaced/);
    assert.ok(results[2].wallUs >= 490_000, `wall ${results[2].wallUs}`);
    assert.ok(took >= 490 && took < 5000, `timed out after ${took} ms`);
    assert.equal(fetches, 1);
    assert.deepEqual(calls.map((c) => c.outcome), ['ok', 'ok', 'trap', 'timeout']);

    // The replacement worker takes the calls that did not run.
    const rest = await handle.callBatch([ev('a'), ev('b')]);
    assert.deepEqual(rest.map((r) => r.outcome), ['ok', 'ok']);
    assert.equal(handle.info.state, 'loaded');
  } finally {
    await handle.close();
  }
});

test('a cancel before a batch starts (shutdown stopped waiting) runs none of it, however many chunks it has', async () => {
  const { handle } = await load(PLUGIN, { limits: { timeout_ms: 5000 } });
  try {
    // Four chunks; the cancel comes before the first is sent. The shared flag is cleared for each
    // chunk, so the host must remember the cancel itself.
    const pending = handle.callBatch(Array.from({ length: 3 * MAX_BATCH + 8 }, () => ev('a'.repeat(10))));
    handle.cancelBatch();
    assert.equal((await pending).length, 0);
  } finally {
    await handle.close();
  }
});

for (const hookChannel of ['shared', 'message']) {
  test(`${hookChannel} channel: a batch of calls that all end ok reports each call's own fuel, as single calls meter it`, async () => {
    const { handle, calls } = await load(PLUGIN, { limits: { timeout_ms: 5000 } }, { hookChannel });
    try {
      // 150 calls: three chunks, every one ok (on the shared channel their results come inline).
      const list = Array.from({ length: 150 }, (_, k) => ev(`{"n":${k},"u":"${'é'.repeat(k % 9)}"}`));
      const results = await handle.callBatch(list);
      assert.equal(results.length, list.length);
      assert.ok(results.every((r) => r.outcome === 'ok' && r.message === undefined && r.wallUs >= 0));
      for (const k of [0, 8, 71, 149]) {
        const single = await handle.call(list[k]);
        assert.equal(results[k].fuelUsed, single.fuelUsed, `call ${k}`);
      }
      // Fuel follows each call's own argument length (the guest reads every byte).
      assert.ok(results[8].fuelUsed > results[0].fuelUsed);
      assert.equal(results[17].fuelUsed, results[26].fuelUsed, 'the same length, the same fuel');
      assert.equal(calls.length, list.length + 4);
    } finally {
      await handle.close();
    }
  });
}
