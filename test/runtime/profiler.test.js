// The fuel profiler on the WAT fixture (test/fixtures/runtime/profile.wat): every per-function
// figure equals what the cost rules in docs/fuel.md give by hand, the figures add up to the fuel
// a normal (unprofiled) load of the same plugin reports, traps keep the profile up to the trap, and
// the flame graph files (speedscope JSON, folded stacks) carry the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { load } from './helpers.js';
import { functionTable, mergeProfiles, profileTotal, selfFuel, toFolded, toSpeedscope } from '../../dist/runtime/index.js';

const SOURCE = readFileSync(path.join(ROOT, 'test/fixtures/runtime/profile.wat'), 'utf8');

// Hand-computed from docs/fuel.md (every operator 1, except block/loop/end/drop/return/
// unreachable/else which are 0; entering a function 1; a call's own operator belongs to the caller):
//
// square(x)        entry 1 + local.get, local.get, i32.mul                         = 4
// sum_squares(n)   entry 1
//                  each of the n passes that continue:
//                    local.get, i32.eqz, br_if (3) + local.get, local.get, call, i32.add,
//                    local.set (5) + local.get, i32.const, i32.sub, local.set (4) + br (1) = 13
//                  the last pass: local.get, i32.eqz, br_if (taken)                  = 3
//                  after the loop: local.get                                         = 1
//                  self = 13n + 5; inclusive = 13n + 5 + 4n (n calls of square)
//                  sum_squares(3): self 44, inclusive 56; sum_squares(2): self 31, inclusive 39
// fact(k)          k < 2:  entry 1 + local.get, i32.const, i32.lt_u, if + i32.const  = 6
//                  k >= 2: entry 1 + 3 + if 1 + local.get, local.get, i32.const, i32.sub,
//                          call, i32.mul                                             = 11
//                  fact(5) = 4 × 11 (k = 5, 4, 3, 2) + 6 (k = 1) = 50, in 5 calls; counted once
//                  (at its outermost frame) in its own inclusive figure
// clamp(20)        entry 1 + local.get, i32.const, i32.gt_s, if + i32.const (return: 0) = 6
// on_reload        entry 1 + i32.const, call (×3) + i32.const (drops are free)       = 8
//                  total 8 + 56 + 50 + 6                                              = 120
// on_server_stop   entry 1 + i32.const, call + call                                  = 4
//   boom           entry 1 + i32.const (drop, unreachable: 0)                        = 2
//                  total 4 + 39 + 2                                                   = 45 (traps)
const ON_RELOAD = {
  on_reload: { self: 8, inclusive: 120, calls: 1 },
  sum_squares: { self: 44, inclusive: 56, calls: 1 },
  square: { self: 12, inclusive: 12, calls: 3 },
  fact: { self: 50, inclusive: 50, calls: 5 },
  clamp: { self: 6, inclusive: 6, calls: 1 },
};
const ON_SERVER_STOP = {
  on_server_stop: { self: 4, inclusive: 45, calls: 1 },
  sum_squares: { self: 31, inclusive: 39, calls: 1 },
  square: { self: 8, inclusive: 8, calls: 2 },
  boom: { self: 2, inclusive: 2, calls: 1 },
};

function byName(profile) {
  return Object.fromEntries(functionTable(profile).map((r) => [r.name, { self: r.self, inclusive: r.inclusive, calls: r.calls }]));
}

async function profiled(t, request = {}) {
  const p = await load(SOURCE, { name: 'prof' }, { profile: request });
  t.after(() => p.handle.close());
  return p;
}

test('per-function fuel equals the hand-computed figures and adds up to the normal run', async (t) => {
  const normal = await load(SOURCE, { name: 'prof' });
  t.after(() => normal.handle.close());
  const plain = await normal.handle.call({ hook: 'on_reload' });
  assert.equal(plain.outcome, 'ok');
  assert.equal(plain.fuelUsed, 120);
  assert.equal(plain.profile, undefined);

  const { handle } = await profiled(t);
  const r = await handle.call({ hook: 'on_reload' });
  assert.equal(r.outcome, 'ok');
  assert.equal(r.fuelUsed, plain.fuelUsed);
  assert.deepEqual(byName(r.profile), ON_RELOAD);
  assert.equal(profileTotal(r.profile), plain.fuelUsed);
  assert.equal(selfFuel(r.profile).slice(1).reduce((a, b) => a + b, 0), plain.fuelUsed);
  assert.equal(r.profile.partial, false);
  // Real call stacks: each path with its own self fuel; the recursion is one path per depth.
  assert.deepEqual(toFolded(r.profile).trim().split('\n'), [
    'on_reload 8',
    'on_reload;sum_squares 44',
    'on_reload;sum_squares;square 12',
    'on_reload;fact 11',
    'on_reload;fact;fact 11',
    'on_reload;fact;fact;fact 11',
    'on_reload;fact;fact;fact;fact 11',
    'on_reload;fact;fact;fact;fact;fact 6',
    'on_reload;clamp 6',
  ]);
});

test('a trap keeps the profile up to the trap, adding up to the fuel reported', async (t) => {
  const { handle } = await profiled(t);
  const r = await handle.call({ hook: 'on_server_stop' });
  assert.equal(r.outcome, 'trap');
  assert.equal(r.fuelUsed, 45);
  assert.equal(r.profile.partial, true);
  assert.deepEqual(byName(r.profile), ON_SERVER_STOP);
  assert.equal(profileTotal(r.profile), 45);
});

test('out of fuel: the profile runs to the failing check, every frame closed there', async (t) => {
  // 60 fuel: on_reload (1) + i32.const, call (2) + sum_squares' 56 = 59 by its exit, then
  // i32.const, call (2) = 61 > 60, and fact's entry (the next check) fails.
  const budget = 60;
  const p = await load(SOURCE, { name: 'prof-oof', fuel: { on_reload: budget } }, { profile: {} });
  t.after(() => p.handle.close());
  const r = await p.handle.call({ hook: 'on_reload' });
  assert.equal(r.outcome, 'out_of_fuel');
  assert.equal(r.fuelUsed, budget);
  assert.equal(r.profile.partial, true);
  const rows = byName(r.profile);
  assert.deepEqual(rows.sum_squares, ON_RELOAD.sum_squares);
  assert.deepEqual(rows.square, ON_RELOAD.square);
  // fact's entry charged 1 and its check failed: 1 + 3 + 56 + 2 = 62, 2 past the budget (the
  // check sees remaining ≤ 0 only after the straight line before it was charged).
  assert.deepEqual(rows.fact, { self: 1, inclusive: 1, calls: 1 });
  assert.equal(rows.clamp, undefined);
  assert.equal(profileTotal(r.profile), 62);
});

test('only the requested hook and number of calls are profiled', async (t) => {
  const seen = [];
  const { handle } = await profiled(t, { hook: 'on_reload', calls: 2, onProfile: (r) => seen.push(r) });
  assert.equal((await handle.call({ hook: 'on_server_stop' })).profile, undefined);
  const a = await handle.call({ hook: 'on_reload' });
  const b = await handle.call({ hook: 'on_reload' });
  const c = await handle.call({ hook: 'on_reload' });
  assert.ok(a.profile && b.profile);
  assert.equal(c.profile, undefined);
  assert.equal(c.fuelUsed, 120);
  assert.equal(seen.length, 2);
  const merged = mergeProfiles([a.profile, b.profile]);
  assert.equal(merged.hookCalls, 2);
  assert.equal(profileTotal(merged), 240);
  assert.deepEqual(byName(merged).fact, { self: 100, inclusive: 100, calls: 10 });
});

test('batched calls (the request-event path) are profiled one by one', async (t) => {
  const { handle } = await profiled(t, { hook: 'on_request_complete', calls: 2 });
  const events = ['{"path":"/"}', '{"path":"/a"}', '{"path":"/ab"}'].map((eventJson) => ({ hook: 'on_request_complete', eventJson }));
  const results = await handle.callBatch(events);
  assert.equal(results.length, 3);
  // on_request_complete(ptr, len): entry 1 + local.get, call (2) + i32.const (1) = 4, plus
  // sum_squares(len) inclusive 17·len + 5; so 17·len + 9.
  for (const [i, r] of results.entries()) {
    assert.equal(r.outcome, 'ok');
    assert.equal(r.fuelUsed, 17 * events[i].eventJson.length + 9);
  }
  assert.equal(profileTotal(results[0].profile), results[0].fuelUsed);
  assert.equal(profileTotal(results[1].profile), results[1].fuelUsed);
  assert.equal(results[2].profile, undefined);
});

test('the speedscope file follows the schema and weighs the whole call', async (t) => {
  const { handle } = await profiled(t);
  const r = await handle.call({ hook: 'on_reload' });
  const file = JSON.parse(JSON.stringify(toSpeedscope(r.profile, 'prof on_reload', 'bext test')));
  assert.equal(file.$schema, 'https://www.speedscope.app/file-format-schema.json');
  assert.equal(file.profiles.length, 1);
  const [prof] = file.profiles;
  assert.equal(prof.type, 'sampled');
  assert.equal(prof.unit, 'none');
  assert.equal(prof.samples.length, prof.weights.length);
  assert.equal(prof.weights.reduce((a, b) => a + b, 0), 120);
  assert.equal(prof.endValue - prof.startValue, 120);
  for (const s of prof.samples) for (const f of s) assert.ok(Number.isInteger(f) && f >= 0 && f < file.shared.frames.length);
  // Inclusive fuel per frame from the samples equals the table's.
  const names = file.shared.frames.map((f) => f.name);
  const inclusive = {};
  prof.samples.forEach((s, i) => {
    for (const f of new Set(s)) inclusive[names[f]] = (inclusive[names[f]] ?? 0) + prof.weights[i];
  });
  for (const [name, want] of Object.entries(ON_RELOAD)) assert.equal(inclusive[name], want.inclusive, name);
});
