// Can a plugin slow the site by talking? HTTP throughput of `bext dev` with one plugin whose
// on_request_complete is quiet, against the same server with a plugin that, per request, logs
// 1,000 or 20,000 warn lines, or emits 20,000 NaN metric samples (a warning cause each time).
// Servers run side by side and are measured in interleaved rounds (autocannon), every other
// round in reverse order; req/s is the median of a server's rounds, its ratio the median of its
// per-round ratios to the quiet server. stderr is a pipe, drained, as under a process manager.
// Goal: every noisy configuration keeps >= 0.8 of the quiet one's req/s.
//
//   node bench/noisy.bench.js [--duration 10] [--rounds 5] [--connections 16] [--root DIR]
// (--root runs another build of bext, e.g. an older checkout, for a before/after comparison)
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { wat } from '../test/helpers/wasm.js';
import { startServer, stopServer } from './start-helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
};

/** `body` runs `count` times per on_request_complete. */
const plugin = (count, body) => `(module
  (import "bext" "log" (func $log (param i32 i32 i32 i32)))
  (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "warn")
  (data (i32.const 200) "noisy line from a plugin that talks too much")
  (data (i32.const 300) "requests")
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "on_request_complete") (param i32 i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const ${count})))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))`;
const LOG = '(call $log (i32.const 100) (i32.const 4) (i32.const 200) (i32.const 44))';
const NAN = '(call $metric (i32.const 300) (i32.const 8) (f64.div (f64.const 0) (f64.const 0)) (i32.const 0) (i32.const 0))';

const CONFIGS = [
  ['quiet plugin', plugin(0, LOG)],
  ['1,000 log lines/call', plugin(1_000, LOG)],
  ['20,000 log lines/call', plugin(20_000, LOG)],
  ['20,000 NaN metrics/call', plugin(20_000, NAN)],
];

/** Calls recorded so far by the server's plugins. */
async function calls(url) {
  try {
    const snap = await (await fetch(`${url}__bext/stats`)).json();
    return Object.values(snap.plugins).reduce((n, p) => n + p.calls, 0);
  } catch {
    return -1;
  }
}

/**
 * Waits until no server's plugin is still working through queued events, so one round's
 * backlog does not eat into the next server's measurement (this machine may have two cores).
 */
async function settle(servers) {
  const end = Date.now() + 15_000;
  let last = await Promise.all(servers.map((s) => calls(s.url)));
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await Promise.all(servers.map((s) => calls(s.url)));
    if (now.every((n, i) => n === last[i])) return;
    last = now;
  }
}

async function main() {
  const seconds = Number(arg('--duration', '10'));
  const rounds = Number(arg('--rounds', '5'));
  const connections = Number(arg('--connections', '16'));
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-noisy-'));
  const servers = [];
  try {
    mkdirSync(path.join(dir, 'public'));
    writeFileSync(path.join(dir, 'public', 'index.html'), '<!doctype html><title>bench</title><p>hello</p>');
    CONFIGS.forEach(([, text], i) => {
      writeFileSync(path.join(dir, `p${i}.wasm`), wat(text));
      writeFileSync(path.join(dir, `c${i}.toml`), `[server]\nroot = "./public"\n[cache]\nenabled = false\n[plugins.bench]\npath = "./p${i}.wasm"\n`);
    });
    for (let i = 0; i < CONFIGS.length; i++) {
      // stderr is counted, not kept: the noisy plugins write megabytes a second.
      const s = { name: CONFIGS[i][0], stderrBytes: 0, rounds: [] };
      const args = [path.join(arg('--root', ROOT), 'bin', 'bext'), 'dev', '-c', `c${i}.toml`, '-p', '0', '--no-watch'];
      Object.assign(s, await startServer(args, { cwd: dir, env: { BEXT_LOG_FORMAT: 'json' }, onStderr: (d) => (s.stderrBytes += d.length) }));
      servers.push(s);
    }
    for (const s of servers) await autocannon({ url: s.url, connections, duration: 1 });
    await settle(servers);
    const per = Math.max(1, Math.round(seconds / rounds));
    for (let r = 0; r < rounds; r++) {
      // Every other round in reverse order, so the quiet server is not always measured first.
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        const before = s.stderrBytes;
        const res = await autocannon({ url: s.url, connections, duration: per });
        if (res.non2xx > 0 || res.errors > 0) throw new Error(`${s.name}: ${res.non2xx} non-2xx, ${res.errors} errors`);
        s.rounds.push({ rps: res.requests.average, p99: res.latency.p99, stderr: s.stderrBytes - before });
        await settle(servers);
      }
    }
  } finally {
    for (const s of servers) await stopServer(s.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // A configuration's ratio is the median of its per-round ratios to the quiet server's same round.
  const rows = servers.map((s) => ({
    name: s.name,
    rps: median(s.rounds.map((r) => r.rps)),
    ratio: median(s.rounds.map((r, i) => r.rps / servers[0].rounds[i].rps)),
    p99: median(s.rounds.map((r) => r.p99)),
    stderrPerS: median(s.rounds.map((r) => r.stderr)) / Math.max(1, Math.round(seconds / rounds)),
  }));
  console.log(`${'configuration'.padEnd(26)} ${'req/s'.padStart(8)} ${'p99 ms'.padStart(8)} ${'stderr KB/s'.padStart(12)} ${'vs quiet'.padStart(9)}`);
  let ok = true;
  for (const r of rows) {
    const ratio = r.ratio;
    if (ratio < 0.8) ok = false;
    console.log(`${r.name.padEnd(26)} ${r.rps.toFixed(0).padStart(8)} ${String(r.p99).padStart(8)} ${(r.stderrPerS / 1024).toFixed(1).padStart(12)} ${ratio.toFixed(2).padStart(9)}`);
  }
  console.log(ok ? 'ok: every noisy plugin keeps >= 0.80 of the quiet throughput' : 'SLOW: a noisy plugin costs more than 20% of throughput');
  process.exit(ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
