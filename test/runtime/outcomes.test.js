// Outcomes beyond ok/error: out of fuel (loop, recursion), traps, stack overflow, timeout and
// crash with recovery, WASI output routing, and memory stability over 1,000 calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { data, load, LOG_IMPORT, mod, pluginFor } from './helpers.js';

const BURN = mod(`
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func $deep (param $n i32) (result i32) (i32.add (call $deep (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func (export "on_reload") (loop $spin (br $spin)))
  (func (export "on_server_stop") (result i32) (drop (call $fib (i32.const 40))) (i32.const 0))
  (func $cleanup (export "cleanup") (result i32) (call $deep (i32.const 0)))
  (func $on_cache_invalidate (export "on_cache_invalidate") (param i32 i32 i32) unreachable)
  (func (export "on_request_complete") (param i32 i32) (result i32) (call $fib (i32.const 10)) (drop) (i32.const 0))`);

test('out of fuel in a loop and in recursion; a fresh budget per call', async () => {
  const { handle } = await load(BURN, { fuel: { on_reload: 1_000_000, on_server_stop: 2_000_000 } });
  try {
    const loop = await handle.call({ hook: 'on_reload' });
    assert.equal(loop.outcome, 'out_of_fuel');
    assert.equal(loop.message, 'all fuel consumed: on_reload used its 1,000,000 budget');
    assert.equal(loop.fuelUsed, 1_000_000);
    assert.equal(loop.budget, 1_000_000);
    assert.equal(loop.trapKind, undefined, 'never reported as a trap');

    const rec = await handle.call({ hook: 'on_server_stop' });
    assert.equal(rec.outcome, 'out_of_fuel');
    assert.equal(rec.message, 'all fuel consumed: on_server_stop used its 2,000,000 budget');
    assert.match(rec.stack.join('\n'), /fib/, 'where it ran out is shown');

    const ok = await handle.call({ hook: 'on_request_complete', eventJson: '{}' });
    assert.equal(ok.outcome, 'ok', 'the next call works');
    assert.ok(ok.fuelUsed > 100 && ok.fuelUsed < 100_000, `fib(10) fuel ${ok.fuelUsed}`);
    const again = await handle.call({ hook: 'on_reload' });
    assert.equal(again.outcome, 'out_of_fuel', 'and gets a fresh budget');
  } finally {
    await handle.close();
  }
});

test('unreachable is a trap, not out of fuel; stack overflow is a trap; instance kept', async () => {
  const { handle } = await load(BURN, { fuel: { on_cache_invalidate: 10 } });
  try {
    const u = await handle.call({ hook: 'on_cache_invalidate', pattern: 'x', count: 1 });
    assert.equal(u.outcome, 'trap');
    assert.equal(u.trapKind, 'unreachable');
    assert.deepEqual(u.stack.map((f) => f.split(' ')[0]), ['on_cache_invalidate']);

    const so = await handle.call({ hook: 'cleanup' });
    assert.equal(so.outcome, 'trap');
    assert.equal(so.trapKind, 'stack overflow');
    assert.match(so.stack.join('\n'), /deep @ 0x[0-9a-f]+ \(×\d+\)/, 'recursion folded into one frame with a count');

    const ok = await handle.call({ hook: 'on_request_complete', eventJson: '{}' });
    assert.equal(ok.outcome, 'ok');
  } finally {
    await handle.close();
  }
});

const STUCK = mod(
  `${data(0, 'info')} ${data(16, 'init')} ${data(32, '{"url":"https://x.example/"}')}
  (func (export "_initialize") (call $log (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 4)))
  (func (export "on_server_start") (param i32 i32) (call $log (i32.const 0) (i32.const 4) (local.get 0) (local.get 1)))
  (func (export "on_reload") (drop (call $fetch (i32.const 32) (i32.const 28))))
  (func (export "on_request_complete") (param i32 i32) (result i32) (i32.const 0))`,
  { imports: `${LOG_IMPORT} (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))` },
);

test('a guest stuck in a host wait times out; the worker is replaced and re-initialised', async () => {
  const started = [];
  const { handle, logs, calls } = await load(STUCK, { limits: { timeout_ms: 600 } }, {
    onMainCall: (plugin, op, payload) => {
      started.push(payload);
      return new Promise(() => {}); // never answers
    },
  });
  try {
    assert.equal((await handle.call({ hook: 'on_server_start', configJson: '{"site":"a"}' })).outcome, 'ok');
    const t0 = Date.now();
    const r = await handle.call({ hook: 'on_reload' });
    const took = Date.now() - t0;
    assert.equal(r.outcome, 'timeout');
    assert.match(r.message, /on_reload exceeded timeout_ms of 600 ms wall time; the worker was terminated and will be replaced/);
    assert.ok(took >= 590 && took < 5000, `timed out after ${took} ms`);
    assert.ok(r.wallUs >= 590_000);
    assert.equal(started.length, 1);

    const next = await handle.call({ hook: 'on_request_complete', eventJson: '{}' });
    assert.equal(next.outcome, 'ok', 'the replacement worker serves the next call');
    const guest = logs.filter((l) => l.source === 'guest').map((l) => l.msg);
    assert.deepEqual(guest, ['init', '{"site":"a"}', 'init', '{"site":"a"}'], '_initialize and on_server_start ran again');
    assert.deepEqual(calls.map((c) => `${c.hook}:${c.outcome}`), [
      'on_server_start:ok', 'on_reload:timeout', 'on_server_start:ok', 'on_request_complete:ok',
    ]);
    assert.equal(handle.info.state, 'loaded');
  } finally {
    await handle.close();
  }
});

test('a worker that dies mid-call ends the call as crashed and is replaced', async () => {
  let release;
  const { handle } = await load(STUCK, { limits: { timeout_ms: 5000 } }, {
    onMainCall: () => {
      release?.();
      return new Promise(() => {});
    },
  });
  try {
    const inFlight = handle.call({ hook: 'on_reload' });
    await new Promise((r) => (release = r));
    // Simulates an engine-level failure (e.g. the worker's isolate dying) while the guest waits.
    await handle.live.worker.terminate();
    const r = await inFlight;
    assert.equal(r.outcome, 'crashed');
    assert.match(r.message, /worker exited with code 1/);
    const next = await handle.call({ hook: 'on_request_complete', eventJson: '{}' });
    assert.equal(next.outcome, 'ok');
  } finally {
    await handle.close();
  }
});

test('WASI stdout/stderr reach the plugin log at debug only, never the process stdout', async () => {
  const text = mod(
    `${data(0, 'from-stdout\nsecond line\npartial')} (data (i32.const 64) "\\00\\00\\00\\00\\1f\\00\\00\\00") ${data(80, 'to-stderr\n')} (data (i32.const 96) "\\50\\00\\00\\00\\0a\\00\\00\\00")
    (func (export "on_reload")
      (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 128)))
      (drop (call $fd_write (i32.const 2) (i32.const 96) (i32.const 1) (i32.const 128))))`,
    { imports: '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))' },
  );
  const plugin = pluginFor(text);
  const { stateDir, ...pc } = plugin;
  const script = path.join(path.dirname(pc.path), 'drive.mjs');
  writeFileSync(
    script,
    `import { loadPlugin } from ${JSON.stringify(path.join(ROOT, 'dist/plugins/index.js'))};
     const h = await loadPlugin({ plugin: ${JSON.stringify(pc)}, stateDir: ${JSON.stringify(stateDir)} });
     const r = await h.call({ hook: 'on_reload' });
     await h.close();
     console.log('outcome=' + r.outcome);`,
  );
  const run = (level) => {
    const env = { ...process.env, BEXT_LOG_FORMAT: 'json' };
    if (level) env.BEXT_PLUGIN_LOG = level;
    else delete env.BEXT_PLUGIN_LOG;
    const r = spawnSync(process.execPath, [script], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'outcome=ok', 'guest output never reaches stdout');
    return r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  const debug = run('debug');
  const lines = debug.filter((l) => l.plugin === 'p').map((l) => [l.level, l.source, l.msg]);
  assert.deepEqual(lines, [
    [20, 'stdout', 'from-stdout'],
    [20, 'stdout', 'second line'],
    [20, 'stderr', 'to-stderr'],
    [20, 'stdout', 'partial'],
  ]);
  assert.deepEqual(run(undefined).filter((l) => l.plugin === 'p'), [], 'nothing at the default level');
  assert.deepEqual(run('info').filter((l) => l.plugin === 'p'), [], 'nothing at info');
});

test('1,000 sequential calls leak no memory in the worker', async (t) => {
  const { handle } = await load(
    mod('(func (export "on_request_complete") (param i32 i32) (result i32) (i32.const 0)) (func (export "on_reload") (result i32) (global.get $live))'),
  );
  const event = JSON.stringify({ path: '/blog/post', status: 200, pad: 'x'.repeat(150) });
  try {
    for (let i = 0; i < 200; i++) await handle.call({ hook: 'on_request_complete', eventJson: event });
    const before = await handle.workerStats(true);
    for (let i = 0; i < 1000; i++) {
      const r = await handle.call({ hook: 'on_request_complete', eventJson: event });
      if (r.outcome !== 'ok') assert.fail(`call ${i}: ${r.outcome} ${r.message}`);
    }
    const after = await handle.workerStats(true);
    const grew = after.heapUsedBytes - before.heapUsedBytes;
    t.diagnostic(`worker heap ${before.heapUsedBytes} → ${after.heapUsedBytes} bytes (${grew >= 0 ? '+' : ''}${grew}); linear memory ${before.wasmMemoryBytes} → ${after.wasmMemoryBytes}`);
    assert.equal(after.wasmMemoryBytes, before.wasmMemoryBytes, 'guest memory did not grow');
    assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'ok', 'no argument block left allocated in the guest');
    // GC'd heap wobbles by a few hundred KB between samples; a per-call leak of 1 KB would be 1 MB.
    assert.ok(grew < 1024 * 1024, `worker heap grew by ${grew} bytes over 1,000 calls`);
    assert.equal(handle.pending.size, 0, 'no call bookkeeping left on the main side');
  } finally {
    await handle.close();
  }
});

test('a wasm start section is metered with the on_server_start budget', async () => {
  // The start function writes 7 to memory; the hook returns it as its error code, proving start ran.
  const starts = mod(`
    (func $init (i32.store (i32.const 16) (i32.const 7)))
    (start $init)
    (func (export "on_reload") (result i32) (i32.load (i32.const 16)))`);
  const { handle } = await load(starts, { fuel: { on_server_start: 1_000 } });
  try {
    const r = await handle.call({ hook: 'on_reload' });
    assert.equal(r.outcome, 'error');
    assert.match(r.message, /7/);
  } finally {
    await handle.close();
  }
  const spins = mod('(func $spin (loop $l (br $l))) (start $spin) (func (export "on_reload"))');
  await assert.rejects(load(spins, { fuel: { on_server_start: 5_000 } }), (e) => {
    assert.match(e.message, /fuel/i);
    return true;
  });
});

test('_initialize is metered with the on_server_start budget and bounded by timeout_ms', async () => {
  const spin = mod('(func (export "_initialize") (loop $l (br $l))) (func (export "on_reload"))');
  const err = await load(spin, { fuel: { on_server_start: 5_000 }, limits: { timeout_ms: 3000 } }).then(
    (r) => (r.handle.close(), null),
    (e) => e,
  );
  assert.ok(err, 'load must fail');
  assert.equal(err.message, 'plugin "p": _initialize ran out of fuel: all fuel consumed: _initialize used its 5,000 budget');
  assert.equal(err.exitCode, 1);

  const stuck = mod(
    `${data(0, '{"url":"https://x.example/"}')} (func (export "_initialize") (drop (call $fetch (i32.const 0) (i32.const 28)))) (func (export "on_reload"))`,
    { imports: '(import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))' },
  );
  const t0 = Date.now();
  await assert.rejects(load(stuck, { limits: { timeout_ms: 500 } }, { onMainCall: () => new Promise(() => {}) }), (e) => {
    assert.equal(e.message, 'plugin "p": _initialize exceeded timeout_ms of 500 ms');
    assert.equal(e.exitCode, 1);
    return true;
  });
  assert.ok(Date.now() - t0 < 5000);
});
