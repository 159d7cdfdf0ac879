// callQueued: the fire-and-forget path. Calls of a chunk that all ended ok come back as tallies
// (exact count, each call's fuel and time as value counts); a chunk with a failed call is
// reported call by call, as callBatch does, and stats recorded from either path are the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { load, mod } from './helpers.js';
import { openStats } from '../../dist/stats/index.js';
import { tallyCalls, tallyOf } from '../../dist/runtime/tally.js';

// on_request_complete: an event starting with "T" traps, "E" returns an error code; any other
// reads every byte (fuel grows with the length).
const PLUGIN = mod(`
  (func (export "on_request_complete") (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $sum i32) (local $c i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u (local.get $p)))
    (if (i32.eq (local.get $c) (i32.const 84)) (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 69)) (then (return (i32.const 7))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0))`);

const ev = (eventJson) => ({ hook: 'on_request_complete', eventJson });

test('calls that all end ok come back as one tally with the fuel and time of each', async () => {
  const tallies = [];
  const { handle, calls } = await load(PLUGIN, {}, { onTally: (t) => tallies.push(t) });
  try {
    const list = [ev('a'.repeat(10)), ev('a'.repeat(10)), ev('a'.repeat(300)), ev('')];
    const run = await handle.callQueued(list);
    assert.equal(run.ran, 4);
    assert.deepEqual(run.results, [], 'no CallResult per call');
    assert.equal(calls.length, 0, 'nothing went to onCall');
    assert.equal(run.tallies.length, 1);
    assert.equal(tallies[0], run.tallies[0], 'the tally went to onTally');
    const t = run.tallies[0];
    assert.equal(t.plugin, 'p');
    assert.equal(t.hook, 'on_request_complete');
    assert.equal(t.count, 4);
    // The same fuel as callBatch reports call by call.
    const single = await handle.callBatch(list);
    const fuels = single.map((r) => r.fuelUsed);
    assert.deepEqual([...tallyCalls(t)].map((c) => c.fuelUsed), fuels);
    const sorted = [...fuels].sort((a, b) => a - b);
    const distinct = [...new Set(sorted)];
    assert.deepEqual(t.fuel.values, distinct);
    assert.deepEqual(t.fuel.counts, distinct.map((v) => sorted.filter((x) => x === v).length));
    assert.equal(t.fuel.total, fuels.reduce((a, b) => a + b, 0));
    assert.equal(t.fuel.min, sorted[0]);
    assert.equal(t.fuel.max, sorted.at(-1));
    assert.equal(t.wallUs.counts.reduce((a, b) => a + b, 0), 4);
  } finally {
    await handle.close();
  }
});

test('a chunk with a failed call is reported call by call, each with its index and message', async () => {
  const tallies = [];
  const { handle, calls } = await load(PLUGIN, {}, { onTally: (t) => tallies.push(t) });
  try {
    const run = await handle.callQueued([ev('a'), ev('T'), ev('b'), ev('E')]);
    assert.equal(run.ran, 4);
    assert.equal(run.tallies.length, 0);
    assert.deepEqual(run.results.map((r) => [r.index, r.result.outcome]), [[0, 'ok'], [1, 'trap'], [2, 'ok'], [3, 'error']]);
    assert.equal(run.results[1].result.trapKind, 'unreachable');
    assert.match(run.results[3].result.message, /error code 7/);
    assert.deepEqual(calls.map((r) => r.outcome), ['ok', 'trap', 'ok', 'error'], 'each went to onCall, in order');
  } finally {
    await handle.close();
  }
});

test('without onTally, the calls go to onCall one by one', async () => {
  const { handle, calls } = await load(PLUGIN);
  try {
    const run = await handle.callQueued([ev('a'), ev('b'), ev('c')]);
    assert.equal(run.ran, 3);
    assert.equal(run.tallies.length, 0);
    assert.deepEqual(calls.map((r) => r.outcome), ['ok', 'ok', 'ok']);
  } finally {
    await handle.close();
  }
});

test('stats from tallies equal stats from the same calls recorded one by one', async (t) => {
  const { handle, stateDir } = await load(PLUGIN, {}, { onTally: () => {} });
  const byTally = openStats({ dbPath: path.join(stateDir, 'a.db'), flushIntervalMs: 0 });
  const byCall = openStats({ dbPath: path.join(stateDir, 'b.db'), flushIntervalMs: 0 });
  t.after(async () => {
    byTally.close();
    byCall.close();
    await handle.close();
  });
  const list = Array.from({ length: 300 }, (_, i) => ev('x'.repeat(i % 37)));
  const results = await handle.callBatch(list);
  for (const r of results) byCall.record(r);
  // The same calls as tallies: run them again through callQueued (fuel is deterministic), and
  // give the recorder the wall times callBatch measured, so both see identical values.
  const run = await handle.callQueued(list);
  assert.equal(run.ran, list.length);
  let k = 0;
  for (const tally of run.tallies) {
    for (let j = 0; j < tally.slots.length / 3; j++) tally.slots[3 * j + 2] = results[k++].wallUs;
  }
  assert.equal(k, list.length);
  // Value counts are made from the slots when the tally is made: make them again from the new times.
  for (const tally of run.tallies) {
    const again = tallyOf(tally.plugin, tally.hook, tally.budget, tally.slots, 0, tally.slots.length / 3);
    byTally.recordTally(again);
  }
  const a = byTally.snapshot('p').plugins.p.hooks[0];
  const b = byCall.snapshot('p').plugins.p.hooks[0];
  for (const h of [a, b]) {
    delete h.firstAt;
    delete h.lastAt;
  }
  assert.deepEqual(a, b);
  assert.equal(a.calls, 300);
  assert.equal(a.outcomes.ok, 300);
});
