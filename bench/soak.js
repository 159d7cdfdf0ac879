// `npm run bench:soak`: memory of a real `bext dev` under steady load. Four plugins built from
// WAT run on every request: one that does its job, one out of fuel on every call, one trapping
// every 10th call, and one using storage. The soak drives steady HTTP load on loopback (undici) and
// samples the server's RSS (from /proc, main thread and workers together: they share the process).
// It prints RSS over time and the growth after the warm-up. It exits 1 when RSS at the end is more
// than SOAK_MAX_GROWTH_PCT (10) above RSS at the end of the warm-up. GC makes RSS a sawtooth of
// ±15% with a period of minutes. So "at the end of the warm-up" is the median of the first third
// of the samples taken after it, and "at the end" is the median of the last third. A leak moves
// both medians apart; one peak moves neither.
// It is not part of `npm test` or `npm run bench` (it takes ~5 min).
//
// Environment: SOAK_SECONDS (300) total length, SOAK_WARMUP_SECONDS (60), SOAK_RPS (300) request
// rate, SOAK_CONNECTIONS (8), SOAK_SAMPLE_SECONDS (10), SOAK_MAX_GROWTH_PCT (10),
// SOAK_NODE_OPTIONS (extra node flags for the server, e.g. --heapsnapshot-signal=SIGUSR2),
// SOAK_SERVER_LOG (a file the server's stdout and stderr are appended to, e.g. with --trace-gc),
// SOAK_HEAP_SNAPSHOTS=1 (sends SIGUSR2 at the end of the warm-up and at the end; use with
// SOAK_NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 and SOAK_KEEP=1; the snapshots land in the
// project folder), SOAK_KEEP=1 keeps the project folder and prints where it is.
// Quick run: SOAK_SECONDS=40 SOAK_WARMUP_SECONDS=10 npm run bench:soak
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { wat } from '../test/helpers/wasm.js';
import { SOAK_PLUGINS as PLUGINS } from './soak-plugins.js';

const num = (name, dflt) => (process.env[name] === undefined ? dflt : Number(process.env[name]));
const SECONDS = num('SOAK_SECONDS', 300);
const WARMUP = num('SOAK_WARMUP_SECONDS', 60);
const RPS = num('SOAK_RPS', 300);
const CONNECTIONS = num('SOAK_CONNECTIONS', 8);
const SAMPLE = num('SOAK_SAMPLE_SECONDS', 10);
const MAX_GROWTH = num('SOAK_MAX_GROWTH_PCT', 10);
if (!(WARMUP + 3 * SAMPLE <= SECONDS)) throw new Error('SOAK_SECONDS must leave at least three samples after SOAK_WARMUP_SECONDS');

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'bext');

function makeProject() {
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-soak-'));
  mkdirSync(path.join(dir, 'public', 'blog'), { recursive: true });
  mkdirSync(path.join(dir, 'plugins'));
  writeFileSync(path.join(dir, 'public', 'index.html'), `<!doctype html><h1>soak</h1>${'<p>text</p>'.repeat(200)}`);
  for (let i = 0; i < 20; i++) writeFileSync(path.join(dir, 'public', 'blog', `post-${i}.html`), `<h1>post ${i}</h1>${'x'.repeat(2000 + i * 100)}`);
  let toml = '[server]\nroot = "./public"\n\n[cache]\nenabled = true\nttl_secs = 5\n';
  for (const [name, src] of Object.entries(PLUGINS)) {
    writeFileSync(path.join(dir, 'plugins', `${name}.wasm`), wat(src));
    toml += `\n[plugins.${name}]\nsandbox = "wasm"\npath = "./plugins/${name}.wasm"\n`;
    // The out-of-fuel plugin burns its whole budget each call; a smaller one keeps its share of
    // the two cores sane while it still runs out on every call.
    if (name === 'fuel') toml += `[plugins.${name}.fuel]\non_request_complete = 5_000_000\n`;
  }
  writeFileSync(path.join(dir, 'bext.config.toml'), toml);
  return dir;
}

/** RSS of the process (all threads) in MB, and its anonymous and file-backed parts. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: mb('VmRSS'), anon: mb('RssAnon'), file: mb('RssFile') };
}

async function startDev(dir) {
  const nodeArgs = (process.env.SOAK_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'dev', '-c', path.join(dir, 'bext.config.toml'), '-p', '0'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', BEXT_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errTail = '';
  let errLines = 0;
  const logFile = process.env.SOAK_SERVER_LOG;
  child.stdout.on('data', (d) => {
    if (out.length < 100_000) out += d;
    if (logFile) appendFileSync(logFile, d);
  });
  // stderr carries a line per failed call; keep only a tail and a count, not all of it.
  child.stderr.on('data', (d) => {
    const s = String(d);
    if (logFile) appendFileSync(logFile, d);
    errLines += s.split('\n').length - 1;
    errTail = (errTail + s).slice(-4000);
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /Local:\s+(http:\/\/\S+)/.exec(out);
    if (m) return { child, url: m[1], exited, stderrLines: () => errLines, stderrTail: () => errTail };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bext dev did not start\nstdout:\n${out}\nstderr:\n${errTail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends RPS requests a second until stopped; counts statuses. */
function drive(url) {
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  const paths = ['/', '/index.html', ...Array.from({ length: 20 }, (_, i) => `/blog/post-${i}.html`)];
  const counts = { sent: 0, ok: 0, notFound: 0, other: 0, errors: 0, skipped: 0, errorCodes: {} };
  let inflight = 0;
  let n = 0;
  const maxInflight = CONNECTIONS * 4;
  // Requests owed so far follow the clock, not the number of timer ticks (ticks come late on a
  // busy machine).
  const started = Date.now();
  let owed = 0;
  const one = async () => {
    n++;
    // One request in 20 asks for a page that does not exist, each time a new one.
    const p = n % 20 === 0 ? `/missing/${n}` : paths[n % paths.length];
    inflight++;
    counts.sent++;
    try {
      const r = await pool.request({ path: p, method: 'GET' });
      await r.body.dump();
      if (r.statusCode === 200) counts.ok++;
      else if (r.statusCode === 404) counts.notFound++;
      else counts.other++;
    } catch (err) {
      counts.errors++;
      const code = err?.code ?? err?.name ?? 'error';
      counts.errorCodes[code] = (counts.errorCodes[code] ?? 0) + 1;
    } finally {
      inflight--;
    }
  };
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * RPS);
    for (; owed < due; owed++) {
      if (inflight >= maxInflight) counts.skipped++;
      else void one();
    }
  }, 10);
  return {
    counts,
    async stop() {
      clearInterval(timer);
      while (inflight > 0) await new Promise((r) => setTimeout(r, 20));
      await pool.close();
    },
  };
}

async function adminJson(url, p) {
  const r = await fetch(new URL(`/__bext/${p}`, url), { headers: { accept: 'application/json' } });
  return r.json();
}

const fmt = (mb) => `${mb.toFixed(1)} MB`;
const dir = makeProject();
let server = null;
let load = null;
let failed = false;
try {
  server = await startDev(dir);
  const pid = server.child.pid;
  console.log(`bext dev pid ${pid} at ${server.url}; ${SECONDS} s at ${RPS} req/s over ${CONNECTIONS} connections, warm-up ${WARMUP} s; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`RSS at start: ${fmt(memoryOf(pid).rss)}`);
  load = drive(server.url);
  const t0 = Date.now();
  const samples = [];
  let warm = null;
  let lastSent = 0;
  for (let t = SAMPLE; t <= SECONDS; t += SAMPLE) {
    await new Promise((r) => setTimeout(r, t0 + t * 1000 - Date.now()));
    const { rss, anon, file } = memoryOf(pid);
    samples.push({ t, rss });
    const rate = (load.counts.sent - lastSent) / SAMPLE;
    lastSent = load.counts.sent;
    const mark = warm === null && t >= WARMUP ? '  <- end of warm-up' : '';
    if (mark) warm = rss;
    if ((mark || t + SAMPLE > SECONDS) && process.env.SOAK_HEAP_SNAPSHOTS === '1') server.child.kill('SIGUSR2');
    const growth = warm === null ? '' : `  ${(((rss - warm) / warm) * 100).toFixed(1).padStart(5)}%`;
    console.log(`${String(t).padStart(5)} s  RSS ${fmt(rss).padStart(9)} (anon ${fmt(anon).padStart(9)}, file ${fmt(file).padStart(8)})  ${rate.toFixed(0).padStart(4)} req/s${growth}${mark}`);
  }
  await load.stop();
  const stats = await adminJson(server.url, 'stats');
  const end = samples[samples.length - 1].rss;
  const median = (xs) => {
    const v = xs.map((x) => x.rss).sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const after = samples.filter((x) => x.t >= WARMUP);
  const third = Math.max(1, Math.floor(after.length / 3));
  const warmMedian = median(after.slice(0, third));
  const endMedian = median(after.slice(-third));
  const growth = ((endMedian - warmMedian) / warmMedian) * 100;
  const peak = Math.max(...samples.filter((s) => s.t >= WARMUP).map((s) => s.rss));
  const c = load.counts;
  console.log(`requests: ${c.sent} sent, ${c.ok} 200, ${c.notFound} 404, ${c.other} other, ${c.errors} errors${c.errors ? ` ${JSON.stringify(c.errorCodes)}` : ''}, ${c.skipped} not sent (all connections busy)`);
  console.log(`server stderr lines: ${server.stderrLines()}`);
  for (const [name, p] of Object.entries(stats.plugins ?? {})) {
    const outcomes = Object.entries(p.outcomes ?? {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`  ${name.padEnd(8)} calls ${p.calls} (${outcomes}), dropped ${p.dropped}`);
  }
  console.log(`RSS at end of warm-up ${fmt(warm)} (median of the first third after it ${fmt(warmMedian)}), at end ${fmt(end)} (median of the last third ${fmt(endMedian)}), peak after warm-up ${fmt(peak)}`);
  console.log(`growth after warm-up: ${growth.toFixed(1)}% (limit ${MAX_GROWTH}%); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (growth > MAX_GROWTH) {
    console.log(`FAIL: RSS grew ${growth.toFixed(1)}% after warm-up`);
    failed = true;
  }
  if (c.errors > 0 || c.other > 0) {
    console.log('FAIL: requests failed');
    failed = true;
  }
} finally {
  await load?.stop().catch(() => {});
  if (server) {
    server.child.kill('SIGTERM');
    const killer = setTimeout(() => server.child.kill('SIGKILL'), 15_000);
    await server.exited;
    clearTimeout(killer);
  }
  if (process.env.SOAK_KEEP === '1') console.log(`project kept at ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
