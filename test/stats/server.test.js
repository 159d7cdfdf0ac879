// Stats through the real dev server: WAT plugins with exactly known fuel per call, outcomes,
// the live and persisted sources agreeing, and figures surviving a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bextSpawn, bextAsync } from '../helpers/cli.js';
import { watFile } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/stats');
const loopWat = (n) => fs.readFileSync(path.join(FIXTURES, 'loop.wat.tmpl'), 'utf8').replace('ITERATIONS', String(n));

function run(args, cwd) {
  return bextAsync(args, { cwd });
}

async function statsJson(cwd, name, ...more) {
  const r = await run(['plugin', 'stats', ...(name ? [name] : []), '--json', ...more], cwd);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function waitFor(fn, what, ms = 15_000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `bext dev` on a port of its choosing (no port picked here that something else could take first);
 * ready once the banner shows, by when `.bext/server.json` tells the CLI where it is.
 */
async function startServer(dir) {
  const child = bextSpawn(['dev', '--no-watch', '-p', '0'], { cwd: dir });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((r) => child.on('close', (code) => r(code)));
  const url = await waitFor(() => /Local:\s+(http:\/\/\S+?)\/?\s/.exec(stdout)?.[1] ?? (child.exitCode !== null && 'exited'), 'the banner', 60_000);
  assert.notEqual(url, 'exited', `bext dev exited\nstdout: ${stdout}\nstderr: ${stderr}`);
  return {
    url,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 0, `dev server exit code (stderr: ${stderr})`);
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

const sum = (snap, plugin) => snap.plugins[plugin]?.hooks.find((h) => h.hook === 'on_request_complete')?.calls ?? 0;

test('known fuel per call, outcomes, live = persisted, and stats survive a restart', async () => {
  const dir = tempDir('bext-stats-e2e-');
  fs.mkdirSync(path.join(dir, 'public'));
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.writeFileSync(path.join(dir, 'public', 'index.html'), '<h1>hi</h1>');
  watFile(dir, 'plugins/light.wasm', loopWat(1000));
  watFile(dir, 'plugins/heavy.wasm', loopWat(2000));
  watFile(dir, 'plugins/flaky.wasm', fs.readFileSync(path.join(FIXTURES, 'flaky.wat'), 'utf8'));
  fs.writeFileSync(
    path.join(dir, 'bext.config.toml'),
    `[server]
root = "./public"
[cache]
enabled = false
[plugins.light]
path = "plugins/light.wasm"
[plugins.heavy]
path = "plugins/heavy.wasm"
[plugins.flaky]
path = "plugins/flaky.wasm"
[plugins.stingy]
path = "plugins/heavy.wasm"
[plugins.stingy.fuel]
on_request_complete = 10_000
`,
  );

  let server = await startServer(dir);
  let base = server.url;
  try {
    const N = 6;
    for (let i = 0; i < N; i++) assert.equal((await fetch(`${base}/`)).status, 200);
    // A full reload runs cleanup on every plugin; flaky's traps.
    assert.equal((await fetch(`${base}/__bext/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status, 200);
    // Hooks run after the response; wait until every event was handled.
    let seen;
    const live = await waitFor(async () => {
      const s = (seen = await (await fetch(`${base}/__bext/stats`)).json());
      const done = ['light', 'heavy', 'flaky', 'stingy'].every((p) => sum(s, p) === N) && s.plugins.flaky.hooks.some((h) => h.hook === 'cleanup');
      return done && s;
    }, 'all hook calls').catch((err) => {
      throw new Error(`${err.message}; last stats: ${JSON.stringify(seen)}`);
    });

    const rc = (p) => live.plugins[p].hooks.find((h) => h.hook === 'on_request_complete');
    // Exact fuel: the same every call, and the 1000 extra iterations cost exactly 6 each.
    for (const p of ['light', 'heavy', 'flaky']) {
      const f = rc(p).fuel;
      assert.equal(f.min, f.max, `${p}: same fuel each call`);
      assert.deepEqual([f.p50, f.p99, f.avg, f.total], [f.min, f.min, f.min, f.min * N], p);
    }
    assert.equal(rc('heavy').fuel.max - rc('light').fuel.max, 6000);
    assert.ok(rc('light').fuel.max >= 6003, `light: ${rc('light').fuel.max}`);
    assert.deepEqual(rc('light').outcomes, { ok: N, error: 0, out_of_fuel: 0, trap: 0, timeout: 0, crashed: 0 });
    assert.deepEqual(rc('flaky').outcomes, { ok: N / 2, error: N / 2, out_of_fuel: 0, trap: 0, timeout: 0, crashed: 0 });
    const cleanup = live.plugins.flaky.hooks.find((h) => h.hook === 'cleanup');
    assert.equal(cleanup.outcomes.trap, 1);
    assert.equal(cleanup.lastFailure.outcome, 'trap');
    assert.match(cleanup.lastFailure.message, /unreachable/);
    assert.equal(rc('flaky').lastFailure.outcome, 'error');
    assert.equal(rc('light').lastFailure, null);
    // Out of fuel: heavy needs 12,003 but stingy's budget is 10,000.
    assert.equal(rc('stingy').outcomes.out_of_fuel, N);
    assert.equal(rc('stingy').fuel.budget, 10_000);
    assert.equal(rc('stingy').fuel.max, 10_000);
    assert.equal(rc('stingy').fuel.maxPctOfBudget, 100);

    // The CLI picks the live server and reports the same figures.
    const cli = await statsJson(dir, 'light');
    assert.equal(cli.origin.kind, 'live');
    assert.deepEqual(cli.plugins.light, live.plugins.light);
    // --since is answered by the server too (it flushes, then sums its minute buckets).
    const scoped = await statsJson(dir, 'light', '--since', '1h');
    assert.equal(scoped.origin.kind, 'live');
    assert.ok(scoped.since !== null);
    assert.deepEqual(scoped.plugins.light.hooks[0].fuel, rc('light').fuel);
    const future = await run(['plugin', 'stats', 'light', '--since', new Date(Date.now() + 3_600_000).toISOString()], dir);
    assert.equal(future.code, 2);
    const table = await run(['plugin', 'stats', 'stingy'], dir);
    assert.match(table.stdout, /^source: live, from the dev server at /m);
    assert.match(table.stdout, /^ {2}% of budget +100\.0% ⚠ +100\.0% ⚠ +100\.0% ⚠ +100\.0% ⚠$/m);
    assert.match(table.stdout, /^⚠ on_request_complete: 6 call\(s\) ran out of fuel$/m);
    assert.match(table.stdout, /^ {2}last failure \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}out_of_fuel: /m);
    const unknown = await run(['plugin', 'stats', 'nope'], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /known plugins: flaky, heavy, light, stingy/);

    // Graceful stop persists; the store alone gives the same figures.
    await server.stop();
    const stored = await statsJson(dir);
    assert.equal(stored.origin.kind, 'persisted');
    for (const p of ['light', 'heavy', 'stingy']) assert.deepEqual(stored.plugins[p], live.plugins[p], p);
    // Shutdown ran cleanup once more, and it trapped again.
    assert.deepEqual(stored.plugins.flaky.hooks.find((h) => h.hook === 'on_request_complete'), rc('flaky'));
    assert.equal(stored.plugins.flaky.hooks.find((h) => h.hook === 'cleanup').outcomes.trap, 2);

    // After a restart the server continues from the stored totals.
    server = await startServer(dir);
    base = server.url;
    const again = await statsJson(dir, 'heavy');
    assert.equal(again.origin.kind, 'live');
    assert.deepEqual(again.plugins.heavy, live.plugins.heavy);
    for (let i = 0; i < 2; i++) await fetch(`${base}/`);
    const more = await waitFor(async () => {
      const s = await (await fetch(`${base}/__bext/stats/light`)).json();
      return sum(s, 'light') === N + 2 && s;
    }, 'two more calls');
    assert.equal(more.plugins.light.hooks[0].fuel.total, rc('light').fuel.max * (N + 2));

    // --reset from the CLI while the server runs: the live figures drop too.
    const reset = await run(['plugin', 'stats', 'light', '--reset'], dir);
    assert.equal(reset.code, 0, reset.stderr);
    const after = await (await fetch(`${base}/__bext/stats`)).json();
    assert.equal(after.plugins.light, undefined);
    assert.equal(sum(after, 'heavy'), N + 2);
    await server.stop();
  } catch (err) {
    server.kill();
    throw err;
  }
});
