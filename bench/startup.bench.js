// Start-up: from spawning `bext dev` to the first 200 on `/`, with 0 plugins and with the four
// example plugins (plugins-example/, warm: their instrumented modules already in .bext/cache),
// beside a plain node:http server that serves the same file (the floor: Node's own start-up).
// Rounds interleave the cases (the machine is shared and noisy); medians and ranges. Also shown:
// the time to the banner (plugins started, watcher running: `bext dev` answers the site before
// that), and the CPU time the process had used at both points (steadier than wall time under load).
// Goals (issue 20): ≤ 250 ms with 0 plugins, ≤ 500 ms with 4 warm plugins.
// Run: npx tsc -p . && node bench/startup.bench.js [--rounds 9] [--baseline OTHER/bin/bext]
// --baseline adds another build's `bext dev` (e.g. main's) to the same interleaved rounds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyExampleProject, cpuMs, freePort, getStatus, interleavedRounds } from './start-helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bext = path.join(here, '..', 'bin', 'bext');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 9);
const baselineAt = process.argv.indexOf('--baseline');
const baseline = baselineAt > 0 ? path.resolve(process.argv[baselineAt + 1]) : null;
const GOALS = { 'bext dev, 0 plugins': 250, 'bext dev, 4 warm plugins': 500 };

const dir = copyExampleProject('bext-bench-startup-', 'with-plugins.toml');
fs.writeFileSync(path.join(dir, 'plain.mjs'), `
import http from 'node:http';
import fs from 'node:fs';
http.createServer((req, res) => fs.readFile(${JSON.stringify(path.join(dir, 'public', 'index.html'))}, (err, body) => {
  res.writeHead(err ? 404 : 200, { 'content-type': 'text/html' });
  res.end(body);
})).listen(Number(process.argv[2]), '127.0.0.1');
`);

/**
 * Spawns the server, polls until `/` answers 200; returns ms from spawn to that answer, and to the
 * banner ("ready in", printed once plugins have started and the watcher runs; null for plain).
 */
async function startOnce(args) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...args(port)], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BEXT_LOG: 'warn', NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let bannerMs = null;
  let bannerCpu = null;
  let firstCpu = null;
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    if (bannerMs === null && /ready in/.test(stdout)) {
      bannerMs = performance.now() - t0;
      bannerCpu = cpuMs(child.pid);
    }
  });
  const isBext = args(0)[0] !== path.join(dir, 'plain.mjs');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let ms = null;
  try {
    while (ms === null) {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${stderr}`);
      if ((await getStatus(port)) === 200) {
        ms = performance.now() - t0;
        firstCpu = cpuMs(child.pid);
      }
      else await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 30_000) throw new Error(`no 200 within 30 s: ${stderr}`);
    }
    while (isBext && bannerMs === null) {
      if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 2));
      if (performance.now() - t0 > 30_000) throw new Error(`no banner within 30 s: ${stderr}`);
    }
  } finally {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
  return { ms, bannerMs, firstCpu, bannerCpu };
}

const cases = {
  'plain node:http': (port) => [path.join(dir, 'plain.mjs'), String(port)],
  'bext dev, 0 plugins': (port) => [bext, 'dev', '-c', 'no-plugins.toml', '-p', String(port)],
  'bext dev, 4 warm plugins': (port) => [bext, 'dev', '-c', 'with-plugins.toml', '-p', String(port)],
  ...(baseline
    ? {
        'baseline, 0 plugins': (port) => [baseline, 'dev', '-c', 'no-plugins.toml', '-p', String(port)],
        'baseline, 4 warm plugins': (port) => [baseline, 'dev', '-c', 'with-plugins.toml', '-p', String(port)],
      }
    : {}),
};
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const banners = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const cpus = Object.fromEntries(Object.keys(cases).map((k) => [k, { first: [], banner: [] }]));
try {
  await interleavedRounds(Object.keys(cases), ROUNDS, (name) => startOnce(cases[name]), (name, { ms, bannerMs, firstCpu, bannerCpu }) => {
    samples[name].push(ms);
    if (bannerMs !== null) banners[name].push(bannerMs);
    if (firstCpu !== null) cpus[name].first.push(firstCpu);
    if (bannerCpu !== null) cpus[name].banner.push(bannerCpu);
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`start-up to first 200, ${ROUNDS} interleaved rounds, ${os.cpus().length} cpus, node ${process.version}`);
if (baseline) console.log(`baseline: ${baseline}`);
const span = (a) => (a.length === 0 ? '' : `${`${Math.round(median(a))} ms`.padStart(8)}  ${`${Math.round(Math.min(...a))}–${Math.round(Math.max(...a))} ms`.padEnd(13)}`);
console.log(`${'server'.padEnd(26)} first 200: median, range    banner (plugins started): median, range`);
for (const [name, a] of Object.entries(samples)) {
  console.log(`${name.padEnd(26)} ${span(a)}  ${span(banners[name])}`);
}
if (cpus['plain node:http'].first.length > 0) {
  console.log(`CPU time used (all threads, 10 ms ticks): at the first 200, and at the banner`);
  for (const [name, c] of Object.entries(cpus)) console.log(`${name.padEnd(26)} ${span(c.first)}  ${span(c.banner)}`);
}
if (baseline) {
  for (const n of ['0 plugins', '4 warm plugins']) {
    const ours = median(samples[`bext dev, ${n}`]);
    const theirs = median(samples[`baseline, ${n}`]);
    const oursReady = median(banners[`bext dev, ${n}`]);
    const theirsReady = median(banners[`baseline, ${n}`]);
    console.log(
      `${n}: this build ÷ baseline = ${(ours / theirs).toFixed(2)}× to the first 200 (${Math.round(ours)} vs ${Math.round(theirs)} ms), ` +
        `${(oursReady / theirsReady).toFixed(2)}× to the banner (${Math.round(oursReady)} vs ${Math.round(theirsReady)} ms)`,
    );
  }
}
// The goals were set where plain node:http took REFERENCE_FLOOR_MS to its first 200; on a loaded
// machine everything is slower, so the same goal scaled to this run's floor is printed too.
const REFERENCE_FLOOR_MS = 112;
const floor = median(samples['plain node:http']);
for (const [name, goal] of Object.entries(GOALS)) {
  const m = median(samples[name]);
  const scaled = (goal / REFERENCE_FLOOR_MS) * floor;
  console.log(
    `GOAL ${name} ≤ ${goal} ms: ${Math.round(m)} ms (${(m / floor).toFixed(1)}× plain node:http) ${m <= goal ? 'PASS' : 'MISS'}` +
      `; scaled to this run's floor (${Math.round(floor)} ms): ≤ ${Math.round(scaled)} ms ${m <= scaled ? 'PASS' : 'MISS'}`,
  );
}
