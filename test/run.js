// Finds every test/**/*.test.js and runs each file in its own Node process (node:test, TAP
// reporter), a few at a time, slowest first. Every file gets a watchdog (a file that outlives it
// fails, named, and its whole process group is killed), a private temp folder, and a check
// afterwards that it left no temp files and no processes behind. Output is TAP, one file after
// another, each headed by its wall and CPU time; the summary shows the slowest files, lists every
// skipped test with its reason, and ends with the `# pass N` / `# fail N` lines of node's reporter.
//
//   node test/run.js [--build] [--lint] [--fuzz] [substring of a path ...]
//   --build   build dist/ first when src/ changed since its last build (scripts/build.js
//             --if-stale: tsc, assets, bundles); the tests import dist/
//   --lint    `npm run lint` beside the build and the tests; a lint failure fails the run, at the
//             end. Not part of `npm test`: on a clean clone eslint and depcruise take ~18 s of one
//             core, which the tests would have to share; .ci/run lints on its own.
//   --fuzz    the differential fuzzers at full size (200 + 80 modules; `npm run test:fuzz`)
//   BEXT_TEST_CONCURRENCY (default 4), BEXT_TEST_FILE_TIMEOUT_S (default 240), BEXT_TEST_SLOWEST (rows in the slowest-files table, default 10)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const argv = process.argv.slice(2);
const fuzz = argv.includes('--fuzz');
const withBuild = argv.includes('--build');
const withLint = argv.includes('--lint');
const filter = argv.filter((a) => !['--fuzz', '--build', '--lint'].includes(a));
const FUZZ_FILES = ['test/fuel/differential.test.js', 'test/fuel/placement.test.js'];

// Four files at once on 2 cores: many files wait on servers, timers and child processes, and at
// three the cores still idled; every file uses its own ports (0 or freePort), temp folder and
// state, and what they share (cargo's target folder, the code and fuel caches) is locked or
// written by rename. Measured back to back (native toolchains hidden, load ~11): 360 s at 3,
// 226 s at 4, CPU 279 / 270 s.
const concurrency = Number(process.env.BEXT_TEST_CONCURRENCY ?? 4);
const defaultTimeoutS = Number(process.env.BEXT_TEST_FILE_TIMEOUT_S ?? (fuzz ? 900 : 240));
// Cold cargo builds (serde and friends, into node_modules/.cache) take minutes on 2 busy cores.
// The C/AssemblyScript SDK checks and the example plugins run compilers or dozens of CLI
// processes: 95-110 s on 2 cores under 3.5x load (5 files at once beside 2 busy loops), about
// half their 240 s default; twice that leaves room for a slower CI machine.
const LONGER_TIMEOUT_S = {
  'test/examples/build.test.js': 600, 'test/examples/rust-sdk.test.js': 600, 'test/examples/new-plugin.test.js': 900,
  'test/examples/c-as-sdk.test.js': 480, 'test/examples/plugins.test.js': 480,
};
// The slowest files start first, so that the short ones fill the gaps at the end: ordered by the
// wall times of the last run on this machine (node_modules/.cache, which `npm ci` clears), or on a
// fresh install by this list (the slowest files of a full run on 2 cores, native toolchains hidden;
// the example builds first, as they are the slowest with the toolchains).
const TIMES_FILE = path.join(root, 'node_modules', '.cache', 'bext-test-times.json');
const SLOW_FIRST = [
  'test/examples/new-plugin.test.js', 'test/examples/plugins.test.js', 'test/examples/build.test.js', 'test/examples/c-as-sdk.test.js',
  'test/examples/rust-sdk.test.js', 'test/stats/cli.test.js', 'test/host/damaged-state.test.js', 'test/runtime/cli.test.js',
  'test/cli/new-plugin.test.js', 'test/config/invalid.test.js', 'test/cli/profile.test.js', 'test/server/event-delivery.test.js',
  'test/server/plugin-output.test.js', 'test/stats/server.test.js', 'test/server/builds.test.js', 'test/server/shutdown.test.js',
  'test/config/check.test.js', 'test/server/live-reload-browser.test.js', 'test/server/dashboard.test.js', 'test/stats/discovery.test.js',
  'test/config/discovery.test.js', 'test/examples/dev.test.js', 'test/cli/everyday.test.js', 'test/cli/bundle.test.js',
  'test/host/storage-cli.test.js', 'test/fuel/placement.test.js',
];

function lastTimes() {
  try {
    return JSON.parse(readFileSync(TIMES_FILE, 'utf8'));
  } catch {
    return null;
  }
}

function find(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'fixtures' && e.name !== 'node_modules') out.push(...find(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const rel = (f) => path.relative(root, f);
let files = find(here).sort();
if (fuzz) files = files.filter((f) => FUZZ_FILES.includes(rel(f)));
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
const times = lastTimes() ?? {};
// A file without a recorded time goes by the list, else counts as slow-ish: better early than last.
const estimate = (f) => times[rel(f)] ?? (SLOW_FIRST.includes(rel(f)) ? 1e7 - SLOW_FIRST.indexOf(rel(f)) : 20_000);
files.sort((a, b) => estimate(b) - estimate(a));

// Every temp file and child of this run lives under one folder and carries one marker, so
// leftovers can be found (and removed) without touching anyone else's.
const runDir = mkdtempSync(path.join(tmpdir(), 'bext-test-run-'));
const marker = `BEXT_TEST_RUN=${runDir}`;
// What files may share for the length of the run (e.g. instrumented example plugins, keyed by
// content): kept, not counted as a leftover, removed at the end.
const sharedDir = path.join(runDir, 'shared');
mkdirSync(sharedDir);
const env = {
  ...process.env,
  TMPDIR: runDir, TMP: runDir, TEMP: runDir,
  BEXT_TEST_RUN: runDir,
  BEXT_TEST_SHARED: sharedDir,
  ...(fuzz ? { BEXT_FUZZ_COUNT: process.env.BEXT_FUZZ_COUNT ?? '200', BEXT_PLACEMENT_COUNT: process.env.BEXT_PLACEMENT_COUNT ?? '80' } : {}),
};

const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];
const total = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
const skips = [];
const problems = [];
let extraFailures = 0;

/** Pids of live processes (other than this one) that carry this run's marker. */
function markedProcesses() {
  const pids = [];
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids; // not Linux: no process check
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker)) pids.push(Number(name));
    } catch {
      // gone already, or not ours to read
    }
  }
  return pids;
}

const running = new Set();

/** Kills a file's whole process group (what it started goes too). */
function killGroup(pid) {
  kill(-pid);
}

function kill(pid, signal = 'SIGKILL') {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

// Interrupted (Ctrl-C, CI cancel): take every file's processes and the temp folder along.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    for (const pid of running) killGroup(pid);
    for (const pid of markedProcesses()) kill(pid);
    rmSync(runDir, { recursive: true, force: true });
    process.exit(130);
  });
}

const BASH = process.platform !== 'win32' && ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));

/** bash's `times` prints the shell's user/sys, then its children's: the latter, in seconds. */
function childCpuSeconds(times) {
  const lines = times.trim().split('\n');
  if (lines.length < 2) return null;
  let s = 0;
  for (const m of lines[1].matchAll(/(\d+)m([\d.]+)s/g)) s += Number(m[1]) * 60 + Number(m[2]);
  return s;
}

function signalName(n) {
  return Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const fileTimeoutMs = Math.max(defaultTimeoutS, LONGER_TIMEOUT_S[rel(file)] ?? 0) * 1000;
    // The file runs as the main module, not under `node --test`: that one would start a second
    // Node process per file just to run it (~0.15 s of CPU each). The watchdog below is the timeout.
    const args = ['--test-reporter=tap', '--test-force-exit', file];
    // Through bash when there is one: its `times` reports the CPU of the file's whole process tree
    // (node, its workers, and every child it waited for), which Node itself cannot tell.
    const child = BASH
      ? spawn(BASH, ['-c', `"$0" "$@"; rc=$?; times >&3; exit $rc`, process.execPath, ...args], {
        cwd: root, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true,
      })
      : spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child.pid);
    let out = '';
    let err = '';
    let times = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdio[3]?.on('data', (d) => (times += d));
    let timedOut = false;
    let lastChance;
    // A file that outlives its timeout fails by name: SIGTERM to its process group first (so
    // test/helpers/cleanup.js removes its temp folders and `bext dev` children shut down), and
    // SIGKILL to whatever is still there a few seconds later.
    const watchdog = setTimeout(() => {
      timedOut = true;
      kill(-child.pid, 'SIGTERM');
      lastChance = setTimeout(() => killGroup(child.pid), 5_000);
    }, fileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      clearTimeout(lastChance);
      running.delete(child.pid);
      // The file's whole process group goes with it (servers, workers, `bext dev` children).
      killGroup(child.pid);
      // A file killed by a signal comes back from bash as 128 + n.
      if (BASH && code > 128) [code, signal] = [null, signalName(code - 128)];
      resolve({ file, code, signal, out, err, timedOut, fileTimeoutMs, ms: Date.now() - started, cpuS: childCpuSeconds(times) });
    });
  });
}

const timings = [];

function report({ file, code, signal, out, err, timedOut, fileTimeoutMs, ms, cpuS }) {
  const name = rel(file);
  const lines = out.split('\n');
  const counts = {};
  for (const line of lines) {
    const m = /^# (\w+) (\d+)$/.exec(line);
    if (m && COUNTERS.includes(m[1])) counts[m[1]] = Number(m[2]);
    const s = /^\s*ok \d+ - (.*) # SKIP (.*)$/.exec(line);
    if (s) skips.push(`${name}: ${s[1]} — ${s[2]}`);
  }
  // A file with skipped tests (a missing toolchain) ran short: its time is no guide for next time.
  timings.push({ name, ms, cpuS, representative: !counts.skipped && code === 0 });
  const cpu = cpuS == null ? '' : `, ${cpuS.toFixed(1)} s CPU`;
  process.stdout.write(`# file: ${name} (${(ms / 1000).toFixed(1)} s${cpu})\n`);
  process.stdout.write(lines.filter((l) => !/^# (\w+) (\d+(\.\d+)?)$/.test(l) && !/^TAP version/.test(l)).join('\n'));
  if (err.trim()) process.stdout.write(`\n${err.trimEnd().split('\n').map((l) => `# stderr: ${l}`).join('\n')}`);
  process.stdout.write('\n');
  for (const k of COUNTERS) total[k] += counts[k] ?? 0;
  let problem = null;
  if (timedOut) problem = `${name} did not finish in ${fileTimeoutMs / 1000} s (killed with everything it started)`;
  else if ((code !== 0 || signal) && !(counts.fail > 0)) {
    problem = counts.cancelled > 0
      ? `${name} had tests cancelled (a test outlived its own timeout, or the file ended under it)`
      : `${name} exited ${signal ?? code} without a failing test`;
  }
  else if (counts.tests === undefined) problem = `${name} printed no summary`;
  if (problem) {
    extraFailures++;
    problems.push(problem);
    process.stdout.write(`not ok - ${problem}\n`);
  }
}

/** `npm run <script>` in the package. */
function npmRun(script, { show }) {
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  return runCommand([...npm, 'run', '--silent', script], { show });
}

/** scripts/build.js --if-stale, straight from Node (npm would add ~0.3 s of CPU to find the script). */
function buildIfStale() {
  return runCommand([process.execPath, path.join(root, 'scripts', 'build.js'), '--if-stale'], { show: true });
}

/** Runs a command in the package (its CPU from bash's `times` where there is bash); output shown or kept. */
function runCommand(args, { show }) {
  return new Promise((resolve) => {
    const began = Date.now();
    const stdio = show ? ['ignore', 'inherit', 'inherit', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe'];
    const child = BASH
      ? spawn(BASH, ['-c', `"$0" "$@"; rc=$?; times >&3; exit $rc`, ...args], { cwd: root, stdio, detached: true })
      : spawn(args[0], args.slice(1), { cwd: root, stdio: stdio.slice(0, 3), detached: true, shell: process.platform === 'win32' });
    running.add(child.pid);
    let out = '';
    let times = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.stdio[3]?.on('data', (d) => (times += d));
    child.on('error', (err) => (out += `${err.message}\n`));
    child.on('close', (code, signal) => {
      running.delete(child.pid);
      resolve({ code, signal, out, ms: Date.now() - began, cpuS: BASH ? childCpuSeconds(times) : null });
    });
  });
}

const took = (r) => `${(r.ms / 1000).toFixed(1)} s${r.cpuS == null ? '' : `, ${r.cpuS.toFixed(1)} s CPU`}`;
// The lint starts with the build and runs beside the tests; its verdict comes at the end.
const lint = withLint ? npmRun('lint', { show: false }) : null;
if (withBuild) {
  const build = await buildIfStale();
  if (build.code !== 0) {
    process.stdout.write(`# build failed (scripts/build.js exited ${build.signal ?? build.code}); no tests run\n`);
    if (lint) {
      const l = await lint;
      if (l.code !== 0) process.stdout.write(l.out.trimEnd().split('\n').map((line) => `# lint: ${line}`).join('\n') + '\n');
    }
    rmSync(runDir, { recursive: true, force: true });
    process.exit(1);
  }
  process.stdout.write(`# build: ${took(build)}\n`);
}

const started = Date.now();
process.stdout.write('TAP version 13\n');
const queue = [...files];
await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
  while (queue.length) report(await runFile(queue.shift()));
}));

if (lint) {
  const l = await lint;
  if (l.code === 0) process.stdout.write(`# lint: passed (${took(l)})\n`);
  else {
    process.stdout.write(l.out.trimEnd().split('\n').map((line) => `# lint: ${line}`).join('\n') + '\n');
    extraFailures++;
    problems.push(`npm run lint failed (exit ${l.signal ?? l.code}; its output is above)`);
    process.stdout.write(`not ok - npm run lint failed\n`);
  }
}

// Leftovers: temp files in the run's folder, processes that carry its marker.
const leftFiles = readdirSync(runDir).filter((name) => name !== 'shared');
if (leftFiles.length) {
  extraFailures++;
  problems.push(`temp files left behind in ${runDir}: ${leftFiles.slice(0, 10).join(', ')}${leftFiles.length > 10 ? ', …' : ''}`);
}
const leftProcesses = markedProcesses();
for (const pid of leftProcesses) kill(pid);
if (leftProcesses.length) {
  extraFailures++;
  problems.push(`processes left running (killed): ${leftProcesses.join(', ')}`);
}
rmSync(runDir, { recursive: true, force: true });

// Where the time went: the slowest files (wall; CPU of each file's process tree) and the total.
// Printed before the skipped list: .ci/run reads that list up to the counters at the end.
const SHOWN = Number(process.env.BEXT_TEST_SLOWEST ?? 10);
if (timings.length > 1 && SHOWN > 0) {
  const cpuTotal = timings.reduce((a, t) => a + (t.cpuS ?? 0), 0);
  process.stdout.write(`# slowest files (wall s, CPU s), of ${timings.length}:\n`);
  for (const t of [...timings].sort((a, b) => b.ms - a.ms).slice(0, SHOWN)) {
    process.stdout.write(`#   ${(t.ms / 1000).toFixed(1).padStart(6)} ${t.cpuS == null ? '     -' : t.cpuS.toFixed(1).padStart(6)}  ${t.name}\n`);
  }
  if (BASH) process.stdout.write(`# cpu ${cpuTotal.toFixed(1)} s in all files (concurrency ${concurrency})\n`);
}
for (const p of problems.slice(-2)) if (!p.includes('.test.js') && !p.startsWith('npm run lint')) process.stdout.write(`not ok - ${p}\n`);
if (skips.length) {
  process.stdout.write(`# skipped tests (${skips.length}):\n`);
  for (const s of skips) process.stdout.write(`#   ${s}\n`);
}
if (problems.length) {
  process.stdout.write('# problems:\n');
  for (const p of problems) process.stdout.write(`#   ${p}\n`);
}
if (!fuzz) {
  const known = { ...times };
  for (const t of timings) {
    if (t.representative) known[t.name] = t.ms;
    else delete known[t.name];
  }
  try {
    mkdirSync(path.dirname(TIMES_FILE), { recursive: true });
    writeFileSync(TIMES_FILE, `${JSON.stringify(known, null, 1)}\n`);
  } catch {
    // no cache folder (read-only install): the next run uses the built-in order
  }
}
total.fail += extraFailures;
process.stdout.write(`# files ${files.length}\n`);
for (const k of COUNTERS) process.stdout.write(`# ${k} ${total[k]}\n`);
process.stdout.write(`# duration_ms ${Date.now() - started}\n`);
process.exit(total.fail > 0 || total.cancelled > 0 || files.length === 0 ? 1 : 0);
