// Finds every test/**/*.test.js and runs each file in its own `node --test` process, a few at a
// time. Every file gets a watchdog (a file that outlives it fails, named, and its whole process
// group is killed), a private temp folder, and a check afterwards that it left no temp files and
// no processes behind. Output is TAP, one file after another; the summary ends with the
// `# pass N` / `# fail N` lines of node's own reporter, and lists every skipped test with its reason.
//
//   node test/run.js [--fuzz] [substring of a path ...]
//   --fuzz    the differential fuzzers at full size (200 + 80 modules; `npm run test:fuzz`)
//   BEXT_TEST_CONCURRENCY (default 3), BEXT_TEST_FILE_TIMEOUT_S (default 240)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const argv = process.argv.slice(2);
const fuzz = argv.includes('--fuzz');
const filter = argv.filter((a) => a !== '--fuzz');
const FUZZ_FILES = ['test/fuel/differential.test.js', 'test/fuel/placement.test.js'];

const concurrency = Number(process.env.BEXT_TEST_CONCURRENCY ?? 3);
const defaultTimeoutS = Number(process.env.BEXT_TEST_FILE_TIMEOUT_S ?? (fuzz ? 900 : 240));
// Cold cargo builds (serde and friends, into node_modules/.cache) take minutes on 2 busy cores.
const LONGER_TIMEOUT_S = { 'test/examples/build.test.js': 600, 'test/examples/rust-sdk.test.js': 600, 'test/examples/new-plugin.test.js': 900 };
// The slowest files start first, so that the short ones fill the gaps at the end.
const SLOW_FIRST = ['test/examples/build.test.js', 'test/examples/rust-sdk.test.js', 'test/examples/c-as-sdk.test.js', 'test/examples/plugins.test.js', 'test/runtime/cli.test.js'];

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
const rank = (f) => (SLOW_FIRST.includes(rel(f)) ? SLOW_FIRST.indexOf(rel(f)) : SLOW_FIRST.length);
files.sort((a, b) => rank(a) - rank(b));

// Every temp file and child of this run lives under one folder and carries one marker, so
// leftovers can be found (and removed) without touching anyone else's.
const runDir = mkdtempSync(path.join(tmpdir(), 'bext-test-run-'));
const marker = `BEXT_TEST_RUN=${runDir}`;
const env = {
  ...process.env,
  TMPDIR: runDir, TMP: runDir, TEMP: runDir,
  BEXT_TEST_RUN: runDir,
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

function kill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
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

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const fileTimeoutMs = Math.max(defaultTimeoutS, LONGER_TIMEOUT_S[rel(file)] ?? 0) * 1000;
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', `--test-timeout=${fileTimeoutMs}`, '--test-force-exit', file], {
      cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    running.add(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let timedOut = false;
    // Backstop for --test-timeout (which fails the file by name in its own TAP): a file whose
    // runner is stuck still gets killed, with everything it started.
    const watchdog = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, fileTimeoutMs + 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      running.delete(child.pid);
      // The file's whole process group goes with it (servers, workers, `bext dev` children).
      killGroup(child.pid);
      resolve({ file, code, signal, out, err, timedOut, fileTimeoutMs, ms: Date.now() - started });
    });
  });
}

function report({ file, code, signal, out, err, timedOut, fileTimeoutMs, ms }) {
  const name = rel(file);
  const lines = out.split('\n');
  const counts = {};
  for (const line of lines) {
    const m = /^# (\w+) (\d+)$/.exec(line);
    if (m && COUNTERS.includes(m[1])) counts[m[1]] = Number(m[2]);
    const s = /^\s*ok \d+ - (.*) # SKIP (.*)$/.exec(line);
    if (s) skips.push(`${name}: ${s[1]} — ${s[2]}`);
  }
  process.stdout.write(`# file: ${name} (${(ms / 1000).toFixed(1)} s)\n`);
  process.stdout.write(lines.filter((l) => !/^# (\w+) (\d+(\.\d+)?)$/.test(l) && !/^TAP version/.test(l)).join('\n'));
  if (err.trim()) process.stdout.write(`\n${err.trimEnd().split('\n').map((l) => `# stderr: ${l}`).join('\n')}`);
  process.stdout.write('\n');
  for (const k of COUNTERS) total[k] += counts[k] ?? 0;
  let problem = null;
  if (timedOut) problem = `${name} did not finish in ${fileTimeoutMs / 1000} s (killed with everything it started)`;
  else if ((code !== 0 || signal) && !(counts.fail > 0)) {
    problem = counts.cancelled > 0
      ? `${name} was cancelled: it did not finish in ${fileTimeoutMs / 1000} s`
      : `${name} exited ${signal ?? code} without a failing test`;
  }
  else if (counts.tests === undefined) problem = `${name} printed no summary`;
  if (problem) {
    extraFailures++;
    problems.push(problem);
    process.stdout.write(`not ok - ${problem}\n`);
  }
}

const started = Date.now();
process.stdout.write('TAP version 13\n');
const queue = [...files];
await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
  while (queue.length) report(await runFile(queue.shift()));
}));

// Leftovers: temp files in the run's folder, processes that carry its marker.
const leftFiles = readdirSync(runDir);
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

for (const p of problems.slice(-2)) if (!p.includes('.test.js')) process.stdout.write(`not ok - ${p}\n`);
if (skips.length) {
  process.stdout.write(`# skipped tests (${skips.length}):\n`);
  for (const s of skips) process.stdout.write(`#   ${s}\n`);
}
if (problems.length) {
  process.stdout.write('# problems:\n');
  for (const p of problems) process.stdout.write(`#   ${p}\n`);
}
total.fail += extraFailures;
process.stdout.write(`# files ${files.length}\n`);
for (const k of COUNTERS) process.stdout.write(`# ${k} ${total[k]}\n`);
process.stdout.write(`# duration_ms ${Date.now() - started}\n`);
process.exit(total.fail > 0 || total.cancelled > 0 || files.length === 0 ? 1 : 0);
