// HTTP throughput of `bext dev` against a plain node:http static server, over loopback.
// Three runs of ~5 s each (autocannon): plain node, bext with no plugins, bext with 3 plugins
// that handle every on_request_complete. Prints req/s, p99 latency and the ratios:
//   goals: bext (no plugins) / plain >= 0.85, bext (3 plugins) / bext (no plugins) >= 0.90.
//
//   node bench/http.bench.js [--duration 5] [--connections 32]
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, statSync, rmSync } from 'node:fs';
import http from 'node:http';
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

// A plugin that reads the whole event (one load per byte) and returns: real per-event work.
const PLUGIN = `(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "bext_alloc") (param $n i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $n)) (i32.const 60000)) (then (global.set $heap (i32.const 1024))))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "on_request_complete") (param $p i32) (param $n i32)
    (local $i i32) (local $sum i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $sum (i32.add (local.get $sum) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (global.set $heap (i32.const 1024))))`;

async function load(url, seconds, connections) {
  // Short warm-up so JIT and connection setup are not measured.
  await autocannon({ url, connections, duration: 1 });
  const r = await autocannon({ url, connections, duration: seconds });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p99: r.latency.p99, total: r.requests.total };
}

async function main() {
  const seconds = Number(arg('--duration', '5'));
  const connections = Number(arg('--connections', '32'));
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-bench-http-'));
  try {
    mkdirSync(path.join(dir, 'public'));
    mkdirSync(path.join(dir, 'plugins'));
    writeFileSync(path.join(dir, 'public', 'index.html'), `<!doctype html><title>bench</title>${'<p>lorem ipsum dolor sit amet</p>'.repeat(30)}`);
    writeFileSync(path.join(dir, 'plugins', 'reader.wasm'), wat(PLUGIN));
    const base = '[server]\nroot = "./public"\n';
    writeFileSync(path.join(dir, 'none.toml'), base);
    writeFileSync(
      path.join(dir, 'three.toml'),
      base + ['one', 'two', 'three'].map((n) => `[plugins.${n}]\npath = "./plugins/reader.wasm"\n`).join(''),
    );

    const runs = [
      ['plain node:http', [fileURLToPath(import.meta.url), '--serve-plain', path.join(dir, 'public')]],
      ['bext, no plugins', [path.join(ROOT, 'bin', 'bext'), 'dev', '-c', 'none.toml', '-p', '0', '--no-watch']],
      ['bext, 3 plugins', [path.join(ROOT, 'bin', 'bext'), 'dev', '-c', 'three.toml', '-p', '0', '--no-watch']],
    ];
    // All three servers run side by side and are measured in interleaved rounds, so a noisy
    // neighbour slows every configuration alike; each figure is the median of its rounds.
    const servers = [];
    for (const [name, args] of runs) servers.push({ name, ...(await startServer(args, { cwd: dir, env: { BEXT_LOG: 'warn' } })), rounds: [] });
    const rounds = Number(arg('--rounds', '3'));
    const rate = Number(arg('--rate', '1000'));
    const steady = Number(arg('--steady', '3'));
    const per = Math.max(1, Math.round(seconds / rounds));
    try {
      for (const s of servers) await autocannon({ url: s.url, connections, duration: 1 });
      for (let r = 0; r < rounds; r++) {
        for (const s of servers) {
          s.rounds.push(await load(s.url, per, connections));
          // Let the plugin workers catch up on queued events before the next measurement.
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      // At an everyday rate nothing is shed: every event is delivered and latency is unchanged.
      await new Promise((res) => setTimeout(res, 1000));
      const counts = async (url) => {
        const snap = await (await fetch(`${url}__bext/stats`)).json();
        let calls = 0;
        let dropped = 0;
        for (const p of Object.values(snap.plugins)) {
          dropped += p.dropped;
          calls += p.hooks.find((h) => h.hook === 'on_request_complete')?.calls ?? 0;
        }
        return { calls, dropped };
      };
      for (const s of servers.slice(1)) {
        const before = await counts(s.url);
        const r = await autocannon({ url: s.url, connections: 8, duration: steady, overallRate: rate });
        await new Promise((res) => setTimeout(res, 1000));
        const after = await counts(s.url);
        s.steady = {
          p50: r.latency.p50,
          p99: r.latency.p99,
          total: r.requests.total,
          delivered: after.calls - before.calls,
          dropped: after.dropped - before.dropped,
        };
      }
    } finally {
      for (const s of servers) await stopServer(s.child);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const results = servers.map((s) => ({
      name: s.name,
      rps: median(s.rounds.map((x) => x.rps)),
      p99: median(s.rounds.map((x) => x.p99)),
      total: s.rounds.reduce((n, x) => n + x.total, 0),
      all: s.rounds.map((x) => Math.round(x.rps)).join(' / '),
    }));
    {
      // Events are delivered after the responses; the persisted stats show how many ran.
      const { openStats } = await import('../dist/stats/index.js');
      const st = openStats({ dbPath: path.join(dir, '.bext', 'state.db'), flushIntervalMs: 0 });
      const snap = st.snapshot();
      st.close();
      results[2].note = Object.values(snap.plugins).map((p) => `${p.plugin}: ${p.calls} calls, ${p.dropped} dropped`).join('; ');
    }

    const pad = (s, n) => String(s).padEnd(n);
    console.log(`\nHTTP, loopback, ${connections} connections, ${rounds} interleaved rounds of ${per} s, GET / (${statSync(path.join(dir, 'public', 'index.html')).size} B)\n`);
    console.log(`${pad('server', 20)}${pad('req/s', 10)}${pad('p99 ms', 9)}${pad('requests', 10)}req/s per round`);
    for (const r of results) console.log(`${pad(r.name, 20)}${pad(Math.round(r.rps), 10)}${pad(r.p99, 9)}${pad(r.total, 10)}${r.all}`);
    const [plain, none, three] = results;
    console.log('');
    console.log(`bext (no plugins) / plain node:   ${(none.rps / plain.rps).toFixed(2)}x   (goal >= 0.85)`);
    console.log(`bext (3 plugins) / no plugins:    ${(three.rps / none.rps).toFixed(2)}x   (goal >= 0.90)`);
    if (three.note) console.log(`hook calls (saturation + steady runs): ${three.note}`);
    console.log(`\nSteady ${rate} req/s for ${steady} s (8 connections):`);
    for (const s of servers.slice(1)) {
      const ev = s.name.includes('3 plugins') ? `, events delivered ${s.steady.delivered}, dropped ${s.steady.dropped}` : '';
      console.log(`${pad(s.name, 20)}p50 ${s.steady.p50} ms, p99 ${s.steady.p99} ms, ${s.steady.total} requests${ev}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- mode 1: this file as the plain node:http baseline server ----------------------------------
if (process.argv.includes('--serve-plain')) {
  const root = arg('--serve-plain');
  const server = http.createServer(async (req, res) => {
    // The same work a minimal static server does: stat, read, content type, ETag.
    const file = path.join(root, req.url === '/' ? 'index.html' : req.url.slice(1));
    try {
      const st = statSync(file);
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': body.length,
        etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`Local:   http://127.0.0.1:${server.address().port}/\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  await main();
}

