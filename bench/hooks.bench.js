// Hook round-trip benchmark: on_request_complete with a 200-byte event to a plugin that parses
// nothing, measured on the main thread from call() to the CallResult (serialisation, worker hop,
// guest allocation + copy + call + free, fuel read, reply). 1 plugin sequential; 4 plugins at once.
// Baseline for the ratio: a bare worker that echoes a message (the floor any worker design pays).
// Goal: p50 ≤ 50 µs. Run: `node bench/hooks.bench.js` after `npx tsc -p .`; BENCH_QUICK=1 shortens it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { wat } from '../test/helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../dist/plugins/index.js';

const QUICK = process.env.BENCH_QUICK === '1';
const WARMUP = QUICK ? 500 : 3_000;
const CALLS = QUICK ? 3_000 : 20_000;
const GOAL_P50_US = 50;

const NOOP = `(module
  (memory (export "memory") 1)
  (global $hp (mut i32) (i32.const 1024))
  (func (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $hp)) (global.set $hp (i32.add (global.get $hp) (local.get $n))) (local.get $p))
  (func (export "bext_dealloc") (param i32 i32) (global.set $hp (i32.const 1024)))
  (func (export "on_request_complete") (param i32 i32) (result i32) (i32.const 0)))`;

const base = JSON.stringify({
  path: '/blog/2024/05/hello-world', method: 'GET', status: 200, cache_status: 'MISS', render_time_us: 1234,
  tenant_id: 't-1', site_id: 's-1', encoding: 'gzip', is_bot: false, pad: '',
});
const EVENT = base.replace('"pad":""', `"pad":"${'x'.repeat(200 - base.length)}"`);
if (Buffer.byteLength(EVENT) !== 200) throw new Error(`event is ${Buffer.byteLength(EVENT)} bytes`);

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples, wallMs) {
  const s = Float64Array.from(samples).sort();
  return { p50: pct(s, 50), p99: pct(s, 99), perSec: (samples.length / wallMs) * 1000 };
}

async function sequential(call, n, into) {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    into?.push((performance.now() - t0) * 1000);
  }
}

async function echoBaseline() {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));`, { eval: true });
  let pending = null;
  w.on('message', (m) => pending?.(m));
  const once = () =>
    new Promise((resolve) => {
      pending = resolve;
      w.postMessage({ type: 'call', id: 1, args: { hook: 'on_request_complete', eventJson: EVENT }, budget: 1 });
    });
  await sequential(once, WARMUP);
  const samples = [];
  const t0 = performance.now();
  await sequential(once, CALLS, samples);
  const r = summary(samples, performance.now() - t0);
  await w.terminate();
  return r;
}

const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-hooks-'));
try {
  const file = path.join(dir, 'noop.wasm');
  writeFileSync(file, wat(NOOP));
  const stateDir = path.join(dir, '.bext');
  const handles = [];
  for (let i = 0; i < 4; i++) {
    handles.push(await loadPlugin({ plugin: { ...defaultPluginConfig(file), name: `noop${i}` }, stateDir, logOutcomes: false }));
  }
  const callOf = (h) => async () => {
    const r = await h.call({ hook: 'on_request_complete', eventJson: EVENT });
    if (r.outcome !== 'ok') throw new Error(`${r.outcome}: ${r.message}`);
  };
  const first = await handles[0].call({ hook: 'on_request_complete', eventJson: EVENT });
  const metered = first.fuelUsed > 0;

  const echo = await echoBaseline();

  // One plugin, one call at a time.
  await sequential(callOf(handles[0]), WARMUP);
  const one = [];
  let t0 = performance.now();
  await sequential(callOf(handles[0]), CALLS, one);
  const r1 = summary(one, performance.now() - t0);

  // Four plugins, each with its own sequential stream, all at once (plugins run in parallel).
  await Promise.all(handles.map((h) => sequential(callOf(h), WARMUP / 4)));
  const four = [];
  t0 = performance.now();
  await Promise.all(handles.map((h) => sequential(callOf(h), CALLS / 4, four)));
  const r4 = summary(four, performance.now() - t0);

  for (const h of handles) await h.close();

  const f = (x) => x.toFixed(1).padStart(8);
  const n = (x) => Math.round(x).toLocaleString('en-US').padStart(10);
  console.log(`on_request_complete round trip, 200-byte event, no-op plugin (${metered ? 'fuel-metered' : 'NOT metered: instrumenter unavailable'}), ${CALLS.toLocaleString('en-US')} calls`);
  console.log(`${'case'.padEnd(34)}${'p50 µs'.padStart(8)}${'p99 µs'.padStart(8)}${'calls/s'.padStart(10)}`);
  console.log(`${'bare worker echo (baseline)'.padEnd(34)}${f(echo.p50)}${f(echo.p99)}${n(echo.perSec)}`);
  console.log(`${'1 plugin, sequential'.padEnd(34)}${f(r1.p50)}${f(r1.p99)}${n(r1.perSec)}`);
  console.log(`${'4 plugins, concurrent'.padEnd(34)}${f(r4.p50)}${f(r4.p99)}${n(r4.perSec)}`);
  console.log(`ratio 1 plugin / bare echo: p50 ${(r1.p50 / echo.p50).toFixed(2)}x, throughput ${(r1.perSec / echo.perSec).toFixed(2)}x`);
  console.log(`ratio 4 plugins / 1 plugin throughput: ${(r4.perSec / r1.perSec).toFixed(2)}x`);
  console.log(`goal p50 ≤ ${GOAL_P50_US} µs: ${r1.p50 <= GOAL_P50_US ? 'met' : 'NOT met'} (${r1.p50.toFixed(1)} µs)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
