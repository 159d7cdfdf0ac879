// `bext plugin stats` and `bext plugin list` through the real CLI: persisted store seeded with
// openStats(), and a stand-in admin server for the live path. Where a test only needs to know what
// the store holds after a command (not how the command shows it), it reads the store in this
// process with readPersisted, which the command's persisted path prints as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { bext, bextAsync, freePort } from '../helpers/cli.js';
import { watFile } from '../helpers/wasm.js';
import { openStats, parseSince, readPersisted } from '../../dist/stats/index.js';
import { loadConfigView } from '../../dist/stats/config-view.js';
import { rowFromConfig } from '../../dist/stats/plugin-list.js';
import { tempDir } from '../helpers/cleanup.js';

async function project(port) {
  const dir = tempDir('bext-stats-cli-');
  fs.mkdirSync(path.join(dir, 'plugins'));
  watFile(dir, 'plugins/a.wasm', `(module (memory (export "memory") 1)
    (func (export "on_request_complete") (param i32 i32)) (func (export "on_server_start") (param i32 i32)))`);
  fs.writeFileSync(
    path.join(dir, 'bext.config.toml'),
    `[server]
port = ${port}
[plugins.alpha]
path = "plugins/a.wasm"
priority = 10
[plugins.alpha.fuel]
on_request_complete = 1_500_000
[plugins.beta]
path = "plugins/missing.wasm"
[plugins.gamma]
path = "plugins/a.wasm"
enabled = false
`,
  );
  return dir;
}

const DB = (dir) => path.join(dir, '.bext', 'stats.db');

/** 1000 ok calls at 1,234,567 fuel / 250 µs, 3 out-of-fuel at 1,500,000 / 2.5 ms, one on_server_start. */
function seed(dir, now = Date.now) {
  const r = openStats({ dbPath: DB(dir), flushIntervalMs: 0, now });
  const base = { plugin: 'alpha', hook: 'on_request_complete', budget: 1_500_000 };
  for (let i = 0; i < 1000; i++) r.record({ ...base, outcome: 'ok', fuelUsed: 1_234_567, wallUs: 250 });
  for (let i = 0; i < 3; i++) r.record({ ...base, outcome: 'out_of_fuel', fuelUsed: 1_500_000, wallUs: 2500 });
  r.record({ plugin: 'alpha', hook: 'on_server_start', outcome: 'ok', fuelUsed: 4321, budget: 500_000_000, wallUs: 40 });
  r.recordDropped('alpha', 'on_request_complete', 7);
  r.close();
}

test('stats NAME from the store: a table per hook with separators, budget shares and warnings', async () => {
  const dir = await project(await freePort());
  seed(dir);
  const r = bext(['plugin', 'stats', 'alpha'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^alpha: 1,004 calls, 1,001 ok, 3 failed, 7 dropped$/m);
  assert.match(out, /^source: persisted, .*stats\.db \(no dev server answering at http:\/\/127\.0\.0\.1:\d+\)$/m);
  const block = out.slice(out.indexOf('on_request_complete  (budget 1,500,000 fuel)'));
  assert.match(block, /calls 1,003 +ok 1,000 +error 0 +out_of_fuel 3 +trap 0 +timeout 0 +crashed 0 +dropped 7/);
  // avg = (1000 × 1,234,567 + 3 × 1,500,000) / 1003 = 1,235,360.9; 3 of 1003 calls is under 1%,
  // so p50 and p99 are both 1,234,567 within the histogram's 0.1%.
  assert.match(block, /^ {2}fuel +1,235,361 +1,23[45],\d{3} +1,23[45],\d{3} +1,500,000$/m);
  assert.match(block, /^ {2}% of budget +82\.4% ⚠ +82\.3% ⚠ +82\.3% ⚠ +100\.0% ⚠$/m);
  assert.match(block, /^ {2}time +257 µs +250 µs +250 µs +2\.5 ms$/m);
  assert.match(out, /on_server_start {2}\(budget 500,000,000 fuel\)\n {2}calls 1 +ok 1 /);
  assert.match(out, /^ {2}fuel +4,321 +4,321 +4,321 +4,321$/m);
  assert.match(out, /^⚠ on_request_complete: a call used 100\.0% of its fuel budget; raise \[plugins\.alpha\.fuel\] on_request_complete/m);
  assert.match(out, /^⚠ on_request_complete: 3 call\(s\) ran out of fuel$/m);
  assert.match(out, /^⚠ on_request_complete: 7 event\(s\) dropped/m);
});

test('stats --json prints one object with the same figures', async () => {
  const dir = await project(await freePort());
  seed(dir);
  const r = bext(['plugin', 'stats', 'alpha', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.source, 'persisted');
  assert.equal(j.origin.kind, 'persisted');
  assert.equal(j.origin.db, DB(dir));
  assert.equal(j.since, null);
  assert.deepEqual(Object.keys(j.plugins), ['alpha']);
  const p = j.plugins.alpha;
  assert.equal(p.calls, 1004);
  assert.equal(p.dropped, 7);
  assert.deepEqual(p.hooks.map((h) => h.hook), ['on_server_start', 'on_request_complete']);
  const h = p.hooks[1];
  assert.deepEqual(h.outcomes, { ok: 1000, error: 0, out_of_fuel: 3, trap: 0, timeout: 0, crashed: 0 });
  assert.equal(h.fuel.total, 1000 * 1_234_567 + 3 * 1_500_000);
  assert.equal(h.fuel.min, 1_234_567);
  assert.equal(h.fuel.max, 1_500_000);
  assert.equal(h.fuel.budget, 1_500_000);
  assert.equal(h.fuel.maxPctOfBudget, 100);
  assert.ok(Math.abs(h.fuel.p50 - 1_234_567) <= 1_234_567 * 0.001, `p50 ${h.fuel.p50}`);
  assert.equal(h.timeUs.total, 1000 * 250 + 3 * 2500);
  assert.equal(p.hooks[0].fuel.p99, 4321);
});

test('stats without NAME lists every plugin and hook', async () => {
  const dir = await project(await freePort());
  seed(dir);
  const r = bext(['plugin', 'stats'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^PLUGIN +HOOK +CALLS +OK +FAILED +DROPPED +FUEL AVG +FUEL P99 +FUEL MAX +MAX\/BUDGET +TIME P99$/m);
  assert.match(r.stdout, /^alpha +on_server_start +1 +1 +0 +0 +4,321 +4,321 +4,321 +<0\.1% +40 µs$/m);
  assert.match(r.stdout, /^alpha +on_request_complete +1,003 +1,000 +3 +7 +1,235,361 +1,23[45],\d{3} +1,500,000 +100\.0% ⚠ +250 µs$/m);
  assert.match(r.stdout, /^configured, no calls recorded: beta, gamma$/m);
  assert.deepEqual(Object.keys(readPersisted(DB(dir)).plugins), ['alpha']);
});

test('an unknown plugin exits 2 and lists the known ones; a configured idle one says so', async () => {
  const dir = await project(await freePort());
  seed(dir);
  const r = bext(['plugin', 'stats', 'alhpa'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^bext: unknown plugin "alhpa"$/m);
  assert.match(r.stderr, /did you mean "alpha"\?/);
  assert.match(r.stderr, /known plugins: alpha, beta, gamma/);
  const idle = bext(['plugin', 'stats', 'beta'], { cwd: dir });
  assert.equal(idle.code, 0, idle.stderr);
  assert.match(idle.stdout, /^beta: no calls recorded yet$/m);
});

test('--since scopes persisted data; bad values are usage errors', async () => {
  const dir = await project(await freePort());
  const t = { now: Date.now() - 3 * 3_600_000 };
  const r0 = openStats({ dbPath: DB(dir), flushIntervalMs: 0, now: () => t.now });
  for (let i = 0; i < 5; i++) r0.record({ plugin: 'alpha', hook: 'on_reload', outcome: 'ok', fuelUsed: 100, budget: 1000, wallUs: 1 });
  t.now = Date.now();
  for (let i = 0; i < 2; i++) r0.record({ plugin: 'alpha', hook: 'on_reload', outcome: 'error', fuelUsed: 900, budget: 1000, wallUs: 1 });
  r0.close();
  assert.equal(readPersisted(DB(dir), { plugin: 'alpha' }).plugins.alpha.calls, 7);
  const recent = JSON.parse(bext(['plugin', 'stats', 'alpha', '--json', '--since', '1h'], { cwd: dir }).stdout);
  assert.equal(recent.plugins.alpha.calls, 2);
  assert.equal(recent.plugins.alpha.outcomes.error, 2);
  assert.ok(Date.parse(recent.since) <= Date.now() - 3_590_000);
  const iso = new Date(Date.now() - 4 * 3_600_000).toISOString();
  assert.equal(readPersisted(DB(dir), { plugin: 'alpha', since: parseSince(iso) }).plugins.alpha.calls, 7, 'an ISO time reads as one');
  const text = bext(['plugin', 'stats', 'alpha', '--since', '10m'], { cwd: dir });
  assert.match(text.stdout, /calls since \d{4}-\d\d-\d\dT/);
  // A value it cannot read is refused by parseSince, which the command calls first: the usage
  // error main prints as `bext: ` and the message (exit 2).
  assert.throws(() => parseSince('last tuesday'), (err) => err.exitCode === 2 && /^--since: cannot read "last tuesday"/.test(err.message));
});

test('--reset clears one plugin or all', async () => {
  const dir = await project(await freePort());
  seed(dir);
  const r2 = openStats({ dbPath: DB(dir), flushIntervalMs: 0 });
  r2.record({ plugin: 'gamma', hook: 'on_reload', outcome: 'ok', fuelUsed: 1, budget: 10, wallUs: 1 });
  r2.close();
  assert.equal(bext(['plugin', 'stats', 'alpha', '--reset', '--since', '1h'], { cwd: dir }).code, 2);
  // An unknown name is refused before anything is cleared (the command's run(), in this process).
  const { run: statsCommand } = await import('../../dist/cli/commands/stats.js');
  await assert.rejects(statsCommand('nope', { config: path.join(dir, 'bext.config.toml'), reset: true }), (err) => err.exitCode === 2 && /unknown plugin "nope"/.test(err.message));
  const r = bext(['plugin', 'stats', 'alpha', '--reset'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cleared stats of "alpha"/);
  assert.equal(readPersisted(DB(dir)).plugins.alpha, undefined, 'alpha has no calls left');
  assert.equal(readPersisted(DB(dir)).plugins.gamma.calls, 1);
  const all = JSON.parse(bext(['plugin', 'stats', '--reset', '--json'], { cwd: dir }).stdout);
  assert.deepEqual(all, { reset: null, removedBuckets: 1, db: DB(dir) });
  assert.deepEqual(readPersisted(DB(dir)).plugins, {});
});

test('stats and list ask a running server first and say so', async () => {
  // The stand-in server listens first, on a port of its own; the config then names that port.
  let dir;
  const seen = [];
  const liveStats = {
    version: 1, source: 'live', generatedAt: new Date().toISOString(), since: null,
    plugins: { alpha: { plugin: 'alpha', calls: 2, outcomes: { ok: 2, error: 0, out_of_fuel: 0, trap: 0, timeout: 0, crashed: 0 }, dropped: 0,
      fetchRefused: { count: 1, top: [{ url: 'https://evil.example/', reason: 'not in allowed_urls', count: 1, lastAt: Date.now() }] },
      hooks: [{
        hook: 'on_reload', calls: 2, outcomes: { ok: 2, error: 0, out_of_fuel: 0, trap: 0, timeout: 0, crashed: 0 }, dropped: 0,
        fuel: {
          total: 24_000_000, min: 12_000_000, avg: 12_000_000, p50: 12_000_000, p99: 12_000_000, max: 12_000_000,
          budget: 200_000_000, maxPctOfBudget: 6,
        },
        timeUs: { total: 3000, min: 1500, avg: 1500, p50: 1500, p99: 1500, max: 1500 }, firstAt: Date.now(), lastAt: Date.now() }] } },
  };
  const srv = http.createServer((req, res) => {
    seen.push(req.url);
    res.setHeader('content-type', 'application/json');
    if (req.url.startsWith('/__bext/stats/alpha')) res.end(JSON.stringify(liveStats));
    else if (req.url === '/__bext/plugins') {
      res.end(JSON.stringify([{ name: 'alpha', path: path.join(dir, 'plugins/a.wasm'), state: 'failed', priority: 10, hooks: [],
        budgets: {}, error: 'instantiation failed: boom' }]));
    } else {
      res.statusCode = 404;
      res.end('{"error":"no"}');
    }
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  try {
    dir = await project(port);
    seed(dir); // the store says 1,004 calls; the server answering says otherwise
    const r = await bextAsync(['plugin', 'stats', 'alpha'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^alpha: 2 calls, 2 ok, 0 failed, 0 dropped$/m);
    assert.match(r.stdout, new RegExp(`^source: live, from the dev server at http://127\\.0\\.0\\.1:${port}/__bext/stats/alpha$`, 'm'));
    assert.match(r.stdout, /^ {2}fuel +12,000,000 +12,000,000 +12,000,000 +12,000,000$/m);
    assert.match(r.stdout, /^ {2}time +1\.5 ms/m);
    assert.match(r.stdout, /^refused fetches: 1\n {2}1× +https:\/\/evil\.example\/ +\(not in allowed_urls\)$/m);
    // This stand-in ignores ?since, so the CLI falls back to the store and says why.
    const s = await bextAsync(['plugin', 'stats', 'alpha', '--since', '1h', '--json'], { cwd: dir });
    const j = JSON.parse(s.stdout);
    assert.equal(j.origin.kind, 'persisted');
    assert.match(j.origin.note, /cannot scope by time/);
    assert.equal(j.plugins.alpha.calls, 1004);
    assert.ok(seen.some((u) => /^\/__bext\/stats\/alpha\?since=\d{4}-/.test(u)), seen.join(' '));
    const l = await bextAsync(['plugin', 'list'], { cwd: dir });
    assert.match(l.stdout, /^source: live/m);
    assert.match(l.stdout, /^alpha +failed +10 +plugins\/a\.wasm$/m);
    assert.match(l.stdout, /^ +error: instantiation failed: boom$/m);
  } finally {
    srv.close();
  }
});

test('plugin list from the config: states, priority, exported hooks and budgets', async () => {
  const dir = await project(await freePort());
  const r = bext(['plugin', 'list'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^source: config, .*bext\.config\.toml \(no dev server answering/m);
  assert.match(r.stdout, /^NAME +STATE +PRIORITY +PATH$/m);
  assert.match(r.stdout, /^alpha +configured +10 +plugins\/a\.wasm\n +on_server_start +500,000,000 fuel\n +on_request_complete +1,500,000 fuel$/m);
  assert.match(r.stdout, /^beta +missing +auto +plugins\/missing\.wasm\n +error: file not found: /m);
  assert.match(r.stdout, /^gamma +disabled +auto +plugins\/a\.wasm$/m);
  const j = JSON.parse(bext(['plugin', 'list', '--json'], { cwd: dir }).stdout);
  assert.equal(j.source.kind, 'config');
  assert.deepEqual(j.plugins.map((p) => [p.name, p.state, p.priority]), [['alpha', 'configured', 10], ['beta', 'missing', null], ['gamma', 'disabled', null]]);
  assert.deepEqual(j.plugins[0].hooks, ['on_server_start', 'on_request_complete']);
  assert.equal(j.plugins[0].budgets.on_request_complete, 1_500_000);
  assert.equal(j.plugins[0].path, path.join(dir, 'plugins/a.wasm'));
});

test('a damaged stats.db is a clear runtime error, not a crash', async () => {
  const dir = await project(await freePort());
  fs.mkdirSync(path.join(dir, '.bext'));
  fs.writeFileSync(DB(dir), 'this is not a SQLite database, just text that is long enough to have a header'.repeat(4));
  const r = bext(['plugin', 'stats', 'alpha'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^bext: cannot read stats from .*stats\.db: file is not a database$/m);
  assert.doesNotMatch(r.stderr, /internal error/);
});

test('plugin list marks a file that is not a wasm module as invalid', async () => {
  const dir = await project(await freePort());
  fs.writeFileSync(path.join(dir, 'plugins', 'missing.wasm'), '(module) ;; WAT text, not a binary');
  // The rows `plugin list --json` prints from the config (the test above runs it), in-process.
  const beta = loadConfigView(path.join(dir, 'bext.config.toml')).plugins.map(rowFromConfig).find((p) => p.name === 'beta');
  assert.equal(beta.state, 'invalid');
  assert.match(beta.error, /not a WebAssembly binary/);
  const r = bext(['plugin', 'list'], { cwd: dir });
  assert.match(r.stdout, /^beta +invalid +auto +plugins\/missing\.wasm\n +error: not a WebAssembly binary: this looks like WAT text; compile it first/m);
});

test("the last failure's guest frames are kept (at most 8, innermost first) and shown by plugin stats", async () => {
  const dir = await project(await freePort());
  const r = openStats({ dbPath: DB(dir), flushIntervalMs: 0 });
  const stack = Array.from({ length: 12 }, (_, i) => `f${i} @ 0x${(0x40 + i).toString(16)} (plugin.c:${10 + i}:3)`);
  r.record({ plugin: 'alpha', hook: 'on_request_complete', budget: 1_500_000, outcome: 'trap', trapKind: 'unreachable', message: 'unreachable', fuelUsed: 9, wallUs: 30, stack });
  r.close();
  const out = bext(['plugin', 'stats', 'alpha'], { cwd: dir });
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /last failure .* trap \(unreachable\)|last failure .* trap: unreachable/);
  const shown = out.stdout.split('\n').filter((l) => /^ {4}at /.test(l)).map((l) => l.trim().slice(3));
  assert.deepEqual(shown, stack.slice(0, 8));
  const hook = readPersisted(DB(dir), { plugin: 'alpha' }).plugins.alpha.hooks.find((h) => h.hook === 'on_request_complete');
  assert.deepEqual(hook.lastFailure.stack, stack.slice(0, 8));
});
