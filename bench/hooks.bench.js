// Hook round-trip benchmark: on_request_complete with a 200-byte event to a plugin that parses
// nothing, measured on the main thread from call() to the CallResult (argument transfer, worker
// wake-up, guest allocation + copy + call + free, fuel read, result back). Both hook channels
// (BEXT_HOOK_CHANNEL=message|shared, src/runtime/call-channel.ts) are measured in the same
// process, rounds interleaved, beside the floors any worker design pays:
//   - postMessage echo: a bare worker that posts every message back;
//   - SAB echo, waitAsync both sides: both threads wake through their event loops;
//   - SAB channel, no-op run: the real call channel, polling as it does by default (the worker looks
//     for the next call for a few µs, then blocks in Atomics.wait; the main thread polls for a quick
//     result before it waits through its event loop), and with polling off (both sides sleep);
//   - futex ping-pong: both threads block in Atomics.wait (the main thread too, which bext cannot
//     do: it serves HTTP). No event loop on either side: what this machine's scheduler allows.
// Then the batch path (callBatch: 64 calls at a time through the channel) in events per second per
// plugin, the same for events read from the event log as the server sends them (callQueued), and
// the CPU all threads use while the plugins sit idle after the calls.
// Goals (issue 20): shared p50 ≤ 10 µs, p99 ≤ 50 µs; batch ≥ 200k events/s per plugin.
// Run: `npm run build && node bench/hooks.bench.js`; BENCH_QUICK=1 shortens it, BENCH_ROUNDS=N
// sets the rounds (default 5; medians and min–max printed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { wat } from '../test/helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../dist/plugins/index.js';
import { eventLog } from '../dist/runtime/event-log.js';
import { CHANNEL_BYTES, createCallChannel } from '../dist/runtime/call-channel.js';
import { othersBusyCores, sampleCpu } from '../dist/runtime/spare-core.js';

const QUICK = process.env.BENCH_QUICK === '1';
const WARMUP = QUICK ? 500 : 2_000;
const CALLS = QUICK ? 3_000 : 10_000;
const BATCH_EVENTS = QUICK ? 5_000 : 20_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 5));
const GOAL = { p50: 10, p99: 50, batchPerSec: 200_000 };

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
const ARGS = { hook: 'on_request_complete', eventJson: EVENT };

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Process CPU (every thread) since `from`, in µs per call: steadier than wall time on a busy machine. */
function cpuPer(from, n) {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / n;
}

function summary(samples, wallMs, cpuUs) {
  const s = Float64Array.from(samples).sort();
  return { p50: pct(s, 50), p99: pct(s, 99), perSec: (samples.length / wallMs) * 1000, cpuUs };
}

async function sequential(call, n, into) {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    into?.push((performance.now() - t0) * 1000);
  }
}

/** Warm-up, then CALLS timed round trips of `once`. */
async function measure(once) {
  await sequential(once, WARMUP);
  const samples = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sequential(once, CALLS, samples);
  return summary(samples, performance.now() - t0, cpuPer(c0, CALLS));
}

async function postMessageEcho() {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));`, { eval: true });
  let pending = null;
  w.on('message', (m) => pending?.(m));
  const r = await measure(
    () =>
      new Promise((resolve) => {
        pending = resolve;
        w.postMessage({ type: 'call', id: 1, args: ARGS, budget: 1 });
      }),
  );
  await w.terminate();
  return r;
}

// Both threads wait with Atomics.waitAsync: word 0 = call seq, word 1 = done seq, bytes from 64.
const WAIT_ASYNC_ECHO = `
const { workerData, parentPort } = require('node:worker_threads');
parentPort.on('message', () => {});
const i32 = new Int32Array(workerData); const u8 = new Uint8Array(workerData, 64);
let seen = 0;
const loop = () => {
  const w = Atomics.waitAsync(i32, 0, seen);
  const go = () => { seen = Atomics.load(i32, 0); let s = 0; for (let k = 0; k < i32[2]; k++) s += u8[k]; i32[3] = s; Atomics.store(i32, 1, seen); Atomics.notify(i32, 1); loop(); };
  if (w.async) w.value.then(go); else go();
};
loop();`;

async function waitAsyncEcho() {
  const sab = new SharedArrayBuffer(4096);
  const i32 = new Int32Array(sab);
  const u8 = new Uint8Array(sab, 64);
  const enc = new TextEncoder();
  const w = new Worker(WAIT_ASYNC_ECHO, { eval: true, workerData: sab });
  let seq = 0;
  const r = await measure(async () => {
    i32[2] = enc.encodeInto(EVENT, u8).written;
    Atomics.store(i32, 0, ++seq);
    Atomics.notify(i32, 0);
    while (Atomics.load(i32, 1) !== seq) {
      const v = Atomics.waitAsync(i32, 1, seq - 1);
      if (v.async) await v.value;
    }
  });
  await w.terminate();
  return r;
}

// The real channel with a run that does nothing: what the shared path costs before any guest work.
const CHANNEL_ECHO = `
const { workerData, parentPort } = require('node:worker_threads');
parentPort.on('message', () => {});
import(workerData.module).then(({ serveCalls, HOT_WAIT_MS, WORKER_POLL_MS }) => serveCalls(workerData.buffer, {
  run: (call) => ({ outcome: 'ok', fuelUsed: call.strings[0].length, wallUs: 0 }),
  postResult: () => { throw new Error('unexpected'); },
  runBatch: () => { throw new Error('unexpected'); },
  postBatchResult: () => { throw new Error('unexpected'); },
  posted: () => 0,
}, HOT_WAIT_MS, workerData.poll ? WORKER_POLL_MS : 0));`;

async function channelEcho(poll) {
  const ch = poll ? createCallChannel() : createCallChannel(CHANNEL_BYTES, 0);
  const w = new Worker(CHANNEL_ECHO, { eval: true, workerData: { buffer: ch.buffer, poll, module: new URL('../dist/runtime/call-channel.js', import.meta.url).href } });
  let id = 0;
  const r = await measure(async () => {
    if (!ch.post(++id, ARGS, 1)) throw new Error('did not fit');
    const report = await ch.result(id);
    if (report?.fuelUsed !== 200) throw new Error('bad echo');
  });
  ch.release();
  await w.terminate();
  return r;
}

const PING_PONG = `
const { workerData } = require('node:worker_threads');
const i32 = new Int32Array(workerData);
for (let seen = 0; ; ) { Atomics.wait(i32, 0, seen); seen = Atomics.load(i32, 0); Atomics.store(i32, 1, seen); Atomics.notify(i32, 1); }`;

async function futexPingPong() {
  const sab = new SharedArrayBuffer(64);
  const i32 = new Int32Array(sab);
  const w = new Worker(PING_PONG, { eval: true, workerData: sab });
  let seq = 0;
  const r = await measure(() => {
    Atomics.store(i32, 0, ++seq);
    Atomics.notify(i32, 0);
    while (Atomics.load(i32, 1) !== seq) Atomics.wait(i32, 1, seq - 1, 1000);
  });
  await w.terminate();
  return r;
}

const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-hooks-'));
const handles = [];
try {
  const file = path.join(dir, 'noop.wasm');
  writeFileSync(file, wat(NOOP));
  const stateDir = path.join(dir, '.bext');
  const plugins = {};
  for (const channel of ['message', 'shared', 'shared-nopoll']) {
    plugins[channel] = [];
    for (let i = 0; i < 4; i++) {
      const hookChannel = channel === 'message' ? 'message' : 'shared';
      const h = await loadPlugin({ plugin: { ...defaultPluginConfig(file), name: `${channel}${i}` }, stateDir, logOutcomes: false, hookChannel, hookPoll: channel !== 'shared-nopoll' });
      handles.push(h);
      plugins[channel].push(h);
    }
  }
  const callOf = (h) => async () => {
    const r = await h.call(ARGS);
    if (r.outcome !== 'ok') throw new Error(`${r.outcome}: ${r.message}`);
  };
  const metered = (await plugins.shared[0].call(ARGS)).fuelUsed > 0;

  const one = (channel) => measure(callOf(plugins[channel][0]));
  const four = async (channel) => {
    const hs = plugins[channel];
    await Promise.all(hs.map((h) => sequential(callOf(h), WARMUP / 4)));
    const samples = [];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(hs.map((h) => sequential(callOf(h), CALLS / 4, samples)));
    return summary(samples, performance.now() - t0, cpuPer(c0, CALLS));
  };
  const batch = async (channel) => {
    const h = plugins[channel][0];
    const list = Array.from({ length: BATCH_EVENTS }, () => ARGS);
    await h.callBatch(list.slice(0, 2_000));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await h.callBatch(list);
    const ms = performance.now() - t0;
    const cpuUs = cpuPer(c0, list.length);
    if (results.length !== list.length || results.some((r) => r.outcome !== 'ok')) throw new Error('batch failed');
    return { perSec: (list.length / ms) * 1000, cpuUs };
  };

  // The server's road: events written once into the event log, a plugin's queue handing their
  // sequence numbers over in chunks of 256 (callQueued, one tally per chunk instead of a result
  // per call), the worker making each event's JSON from the log. Events of one load generator:
  // the strings repeat, the timings and timestamps change.
  const logged = async (channel) => {
    const h = plugins[channel][0];
    const log = eventLog();
    const fields = { path: '/index.html', query: '', method: 'GET', status: 200, cacheStatus: 'HIT', renderUs: 12, durationUs: 30, bytes: 1300, tenantId: null, siteId: null, encoding: 'identity', isBot: false, userAgent: 'wrk/4.2.0', referer: null, ts: Date.now() };
    const run = async (n) => {
      for (let done = 0; done < n; done += 256) {
        const seqs = [];
        for (let i = 0; i < 256; i++) {
          fields.ts++;
          fields.durationUs = 20 + (i & 15);
          const seq = log.append(fields);
          if (seq < 0) throw new Error('the event log is full');
          log.retain(seq, 1);
          seqs.push(seq);
        }
        const r = await h.callQueued(seqs);
        if (r.ran !== seqs.length || r.results.some((x) => x.result.outcome !== 'ok')) throw new Error('logged batch failed');
        for (const seq of seqs) log.release(seq);
      }
    };
    await run(2_048);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(BATCH_EVENTS);
    const ms = performance.now() - t0;
    return { perSec: (BATCH_EVENTS / ms) * 1000, cpuUs: cpuPer(c0, BATCH_EVENTS) };
  };

  // What the 12 plugins' workers (and this thread) burn once calls stop: polling must end, and
  // the workers park in their event loops. The median of five 200 ms windows from 300 ms after the
  // last call: V8 collects the calls' garbage in some window or other, in every isolate, whatever
  // the channel does.
  const idle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    const windows = [];
    for (let k = 0; k < 5; k++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 200));
      const c = process.cpuUsage(c0);
      windows.push(((c.user + c.system) / (performance.now() - t0)) * 1000);
    }
    return { perSec: 0, cpuUs: windows.sort((a, b) => a - b)[2], idle: true };
  };
  const cases = [
    ['floor: postMessage echo', postMessageEcho],
    ['floor: SAB echo, waitAsync both sides', waitAsyncEcho],
    ['floor: SAB call channel, no-op run', () => channelEcho(true)],
    ['floor: SAB call channel, no polling', () => channelEcho(false)],
    ['floor: futex ping-pong, main blocks', futexPingPong],
    ['message: 1 plugin, sequential', () => one('message')],
    ['shared: 1 plugin, sequential', () => one('shared')],
    ['shared, no polling: 1 plugin, seq.', () => one('shared-nopoll')],
    ['message: 4 plugins, concurrent', () => four('message')],
    ['shared: 4 plugins, concurrent', () => four('shared')],
    ['shared, no polling: 4 plugins, conc.', () => four('shared-nopoll')],
    ['message: batch path, 1 plugin', () => batch('message')],
    ['shared: batch path, 1 plugin', () => batch('shared')],
    ['shared: events from the log, 1 plugin', () => logged('shared')],
    ['idle: 12 plugins, no calls', idle],
  ];
  // The channel polls only while other processes leave a core to spare (src/runtime/spare-core.ts).
  const cpu0 = sampleCpu(performance.now());
  const rows = new Map(cases.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of cases) rows.get(name).push(await run());
  }
  const others = othersBusyCores(cpu0, sampleCpu(performance.now()));

  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { med: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
  };
  const cell = (xs, digits = 1) => {
    const { med, min, max } = stat(xs);
    return ` ${med.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`.padStart(22);
  };
  const rate = (xs) => {
    const { med, min, max } = stat(xs);
    const k = (x) => `${Math.round(x / 1000)}k`;
    return ` ${k(med)} (${k(min)}–${k(max)})`.padStart(22);
  };
  console.log(
    `on_request_complete round trip, 200-byte event, no-op plugin (${metered ? 'fuel-metered' : 'NOT metered: instrumenter unavailable'}), ` +
      `${CALLS.toLocaleString('en-US')} calls per round, ${ROUNDS} rounds interleaved: median (min–max over rounds); other processes kept ${others.toFixed(2)} of ${availableParallelism()} cores busy`,
  );
  console.log(`${'case'.padEnd(40)}${'p50 µs'.padStart(22)}${'p99 µs'.padStart(22)}${'calls/s'.padStart(22)}${'CPU µs/call'.padStart(22)}`);
  for (const [name, rs] of rows) {
    const cpu = cell(rs.map((r) => r.cpuUs));
    if (rs[0].idle) console.log(`${name.padEnd(40)}${''.padStart(66)}${cpu} per second of idle (µs)`);
    else if (rs[0].p50 === undefined) console.log(`${name.padEnd(40)}${''.padStart(44)}${rate(rs.map((r) => r.perSec))}${cpu}`);
    else console.log(`${name.padEnd(40)}${cell(rs.map((r) => r.p50))}${cell(rs.map((r) => r.p99))}${rate(rs.map((r) => r.perSec))}${cpu}`);
  }
  const med = (name, key) => stat(rows.get(name).map((r) => r[key])).med;
  const sharedP50 = med('shared: 1 plugin, sequential', 'p50');
  const sharedP99 = med('shared: 1 plugin, sequential', 'p99');
  const batchRate = med('shared: batch path, 1 plugin', 'perSec');
  const echoP50 = med('floor: postMessage echo', 'p50');
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  console.log(`shared / message p50: ${(sharedP50 / med('message: 1 plugin, sequential', 'p50')).toFixed(2)}x; shared / postMessage echo p50: ${(sharedP50 / echoP50).toFixed(2)}x; shared / SAB channel floor p50: ${(sharedP50 / med('floor: SAB call channel, no-op run', 'p50')).toFixed(2)}x`);
  console.log(`shared, polling / no polling p50: ${(sharedP50 / med('shared, no polling: 1 plugin, seq.', 'p50')).toFixed(2)}x; CPU per call ${med('shared: 1 plugin, sequential', 'cpuUs').toFixed(1)} vs ${med('shared, no polling: 1 plugin, seq.', 'cpuUs').toFixed(1)} µs; idle: ${med('idle: 12 plugins, no calls', 'cpuUs').toFixed(0)} µs CPU per second`);
  console.log(`goal hook round trip p50 ≤ ${GOAL.p50} µs: ${verdict(sharedP50 <= GOAL.p50)} (${sharedP50.toFixed(1)} µs; postMessage echo floor ${echoP50.toFixed(1)} µs)`);
  console.log(`goal hook round trip p99 ≤ ${GOAL.p99} µs: ${verdict(sharedP99 <= GOAL.p99)} (${sharedP99.toFixed(1)} µs)`);
  const batchCpu = med('shared: batch path, 1 plugin', 'cpuUs');
  console.log(`goal batch path ≥ ${GOAL.batchPerSec.toLocaleString('en-US')} events/s per plugin: ${verdict(batchRate >= GOAL.batchPerSec)} (${Math.round(batchRate).toLocaleString('en-US')} /s; CPU ${batchCpu.toFixed(1)} µs per event, i.e. ${Math.round(1e6 / batchCpu).toLocaleString('en-US')} events per CPU-second)`);
  const loggedRate = med('shared: events from the log, 1 plugin', 'perSec');
  console.log(`the server's road (events from the log, callQueued): ${Math.round(loggedRate).toLocaleString('en-US')} events/s per plugin, CPU ${med('shared: events from the log, 1 plugin', 'cpuUs').toFixed(2)} µs per event, both threads`);
} finally {
  for (const h of handles) await h.close();
  rmSync(dir, { recursive: true, force: true });
}
