// Every hook, every return convention, _initialize/_start rules, skipped hooks, argument freeing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, load, LOG_IMPORT, mod } from './helpers.js';

const LOGGER = `${data(0, 'info')} ${data(16, 'init')} ${data(32, 'start')} ${data(48, 'cleanup failed: disk full')} ${data(80, 'demo-plugin')}`;
const say = (p, l) => `(call $log (i32.const 0) (i32.const 4) ${p} ${l})`;

const ALL_HOOKS = mod(
  `${LOGGER}
  (func (export "_initialize") ${say('(i32.const 16)', '(i32.const 4)')})
  (func (export "_start") ${say('(i32.const 32)', '(i32.const 5)')})
  (func (export "bext_priority") (result i32) (i32.const 7))
  (func (export "bext_name") (result i64) (i64.const 11))
  (func (export "on_server_start") (param i32 i32) ${say('(local.get 0)', '(local.get 1)')})
  (func (export "on_request_complete") (param i32 i32) (result i32) ${say('(local.get 0)', '(local.get 1)')} (i32.const 0))
  (func (export "on_cache_write") (param i32 i32 i32 i32) (result i64)
    ${say('(local.get 0)', '(local.get 1)')} ${say('(local.get 2)', '(local.get 3)')} (i64.const 0))
  (func (export "on_cache_invalidate") (param i32 i32 i32) (result i32) ${say('(local.get 0)', '(local.get 1)')} (local.get 2))
  (func (export "on_reload") (result i32) (global.get $live))
  (func (export "on_server_stop") (result i32) (i32.const 3))
  (func (export "cleanup") (result i64) (i64.or (i64.shl (i64.const 48) (i64.const 32)) (i64.const 25)))`,
  { imports: LOG_IMPORT },
);

test('every hook gets its arguments and every return convention maps to an outcome', async () => {
  const { handle, logs, calls } = await load(ALL_HOOKS, { priority: null });
  const guestSaid = () => logs.filter((l) => l.source === 'guest').map((l) => l.msg);
  try {
    assert.equal(handle.info.priority, 7, 'bext_priority is used when the config sets none');
    assert.deepEqual(handle.info.hooks.sort(), [
      'cleanup', 'on_cache_invalidate', 'on_cache_write', 'on_reload', 'on_request_complete', 'on_server_start', 'on_server_stop',
    ]);
    assert.deepEqual(guestSaid(), ['init'], '_initialize ran once at load, _start never');

    const start = await handle.call({ hook: 'on_server_start', configJson: '{"endpoint":"https://a.example"}' });
    assert.equal(start.outcome, 'ok');
    assert.equal(start.budget, 500_000_000);
    assert.equal(guestSaid().at(-1), '{"endpoint":"https://a.example"}');

    const event = JSON.stringify({ path: '/ü/ñ', status: 200, pad: 'x'.repeat(150) });
    const req = await handle.call({ hook: 'on_request_complete', eventJson: event });
    assert.equal(req.outcome, 'ok', 'i32 0 is ok');
    assert.equal(guestSaid().at(-1), event, 'UTF-8 event arrives intact');

    const cw = await handle.call({ hook: 'on_cache_write', key: 'page:/blog/1', tagsJson: '["blog","post:1"]' });
    assert.equal(cw.outcome, 'ok', 'i64 0 is ok');
    assert.deepEqual(guestSaid().slice(-2), ['page:/blog/1', '["blog","post:1"]']);

    const ci0 = await handle.call({ hook: 'on_cache_invalidate', pattern: 'page:/blog/*', count: 0 });
    assert.equal(ci0.outcome, 'ok');
    assert.equal(guestSaid().at(-1), 'page:/blog/*');
    const ci5 = await handle.call({ hook: 'on_cache_invalidate', pattern: 'page:*', count: 5 });
    assert.equal(ci5.outcome, 'error');
    assert.equal(ci5.message, 'on_cache_invalidate returned error code 5', 'count reaches the guest');

    const stop = await handle.call({ hook: 'on_server_stop' });
    assert.equal(stop.outcome, 'error');
    assert.equal(stop.message, 'on_server_stop returned error code 3');

    const cleanup = await handle.call({ hook: 'cleanup' });
    assert.equal(cleanup.outcome, 'error');
    assert.equal(cleanup.message, 'cleanup failed: disk full', 'i64 packed error message decoded');
    assert.equal(cleanup.budget, 100_000_000);

    const reload = await handle.call({ hook: 'on_reload' });
    assert.equal(reload.outcome, 'ok', 'every argument block the host allocated was freed (0 live)');

    assert.equal(calls.length, 8, 'onCall saw every call');
    for (const c of calls) {
      assert.equal(c.plugin, 'p');
      assert.ok(c.wallUs >= 0 && c.wallUs < 1e6);
      assert.ok(Number.isInteger(c.fuelUsed) && c.fuelUsed >= 0 && c.fuelUsed < c.budget);
    }
    assert.ok(!guestSaid().includes('start'), '_start never runs');
  } finally {
    await handle.close();
  }
});

test('a hook the module does not export is a no-op with skipped: true', async () => {
  const { handle, calls } = await load(mod('(func (export "on_reload"))'));
  try {
    const r = await handle.call({ hook: 'on_request_complete', eventJson: '{}' });
    assert.deepEqual(
      { outcome: r.outcome, skipped: r.skipped, fuelUsed: r.fuelUsed, hook: r.hook, budget: r.budget },
      { outcome: 'ok', skipped: true, fuelUsed: 0, hook: 'on_request_complete', budget: 100_000_000 },
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(handle.info.hooks, ['on_reload']);
    assert.equal(handle.info.priority, 1000, 'default priority');
  } finally {
    await handle.close();
  }
});

test('i64 error pointing outside memory is an error, not a host crash', async () => {
  const { handle } = await load(mod('(func (export "cleanup") (result i64) (i64.const -1)) (func (export "on_reload") (result i64) (i64.const 0x0000ffff00000010))'));
  try {
    const r = await handle.call({ hook: 'cleanup' });
    assert.equal(r.outcome, 'error');
    assert.match(r.message, /cleanup returned an error whose message range \[4294967295, 8589934590\) is outside memory of 65536 bytes/);
    const r2 = await handle.call({ hook: 'on_reload' });
    assert.match(r2.message, /range \[65535, 65551\) is outside memory/);
  } finally {
    await handle.close();
  }
});

test('other allocator forms: malloc/free and cabi_realloc', async () => {
  const body = (alloc) => `
    ${data(0, 'info')}
    (global $hp (mut i32) (i32.const 4096))
    (global $frees (mut i32) (i32.const 0))
    ${alloc}
    (func (export "on_request_complete") (param i32 i32) (result i32) (call $log (i32.const 0) (i32.const 4) (local.get 0) (local.get 1)) (i32.const 0))
    (func (export "on_reload") (result i32) (global.get $frees))`;
  const malloc = `(func (export "malloc") (param i32) (result i32) (local $p i32) (local.set $p (global.get $hp)) (global.set $hp (i32.add (global.get $hp) (local.get 0))) (local.get $p))
    (func (export "free") (param i32) (global.set $frees (i32.add (global.get $frees) (i32.const 1))))`;
  const cabi = `(func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (if (i32.or (i32.ne (local.get 0) (i32.const 0)) (i32.ne (local.get 2) (i32.const 1))) (then unreachable))
      (local.set $p (global.get $hp)) (global.set $hp (i32.add (global.get $hp) (local.get 3))) (local.get $p))`;
  for (const [alloc, frees] of [[malloc, 1], [cabi, 0]]) {
    const { handle, logs } = await load(mod(body(alloc), { allocator: false, imports: LOG_IMPORT }));
    try {
      const r = await handle.call({ hook: 'on_request_complete', eventJson: '{"a":1}' });
      assert.equal(r.outcome, 'ok');
      assert.equal(logs.at(-1).msg, '{"a":1}');
      const f = await handle.call({ hook: 'on_reload' });
      assert.equal(f.outcome === 'ok' ? 0 : Number(f.message.match(/-?\d+$/)[0]), frees);
    } finally {
      await handle.close();
    }
  }
});

test('_initialize that traps fails the load with exit code 1', async () => {
  await assert.rejects(load(mod('(func (export "_initialize") unreachable) (func (export "on_reload"))')), (err) => {
    assert.match(err.message, /plugin "p": _initialize trapped: unreachable/);
    assert.equal(err.exitCode, 1);
    return true;
  });
});

test('after a trap the instance is kept: state survives; proc_exit ends only the call', async () => {
  const { handle } = await load(
    mod(
      `(global $n (mut i32) (i32.const 0))
      (func $on_reload (export "on_reload") (global.set $n (i32.add (global.get $n) (i32.const 1))) unreachable)
      (func $on_server_stop (export "on_server_stop") (call $exit (i32.const 3)))
      (func $cleanup (export "cleanup") (result i32) (global.get $n))`,
      { imports: '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))' },
    ),
  );
  try {
    assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'trap');
    assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'trap');
    const exit = await handle.call({ hook: 'on_server_stop' });
    assert.equal(exit.outcome, 'trap');
    assert.equal(exit.trapKind, 'proc_exit');
    assert.match(exit.message, /guest called proc_exit\(3\); the call ends, the instance stays loaded/);
    const r = await handle.call({ hook: 'cleanup' });
    assert.equal(r.message, 'cleanup returned error code 2', 'globals written before each trap are still there');
  } finally {
    await handle.close();
  }
});
