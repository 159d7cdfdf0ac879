// `npm start -- -p PORT`: the demo moves as one. The collector goes to PORT + 1000, my-analytics
// sends its batches there, the pages learn the live URLs, and /expensive and /crash are real
// pages. Runs plugins-example/start.js as a subprocess on a private copy of the demo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../helpers/cli.js';
import { ownChild, tempDir } from '../helpers/cleanup.js';
import { EXAMPLES, seedFuelCache, until } from './lib.js';

/** The demo folder copied beside a link to this checkout's bin/, as start.js expects to sit. */
function demoCopy() {
  const dir = tempDir('bext-demo-start-');
  const demo = path.join(dir, 'plugins-example');
  cpSync(EXAMPLES, demo, {
    recursive: true,
    filter: (src) => !/[/\\](target|\.bext|node_modules|bext\.demo\.toml|demo\.json)$/.test(src),
  });
  symlinkSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'));
  seedFuelCache(path.join(demo, '.bext', 'cache'));
  return demo;
}

function listenable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port P with P + 1000 free too (the demo's default pairing). */
async function freePair() {
  for (let i = 0; i < 50; i++) {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address();
    await new Promise((r) => srv.close(r));
    if (port + 1000 <= 65535 && (await listenable(port + 1000))) return port;
  }
  throw new Error('no free port pair found');
}

async function text(url) {
  const r = await fetch(url);
  return { status: r.status, url: r.url, body: await r.text() };
}

test('npm start -- -p PORT moves the site, the collector and every URL that names it', { timeout: 120_000 }, async (t) => {
  const demo = demoCopy();
  const port = await freePair();
  const child = ownChild(spawn(process.execPath, [path.join(demo, 'start.js'), '-p', String(port), '--host', '127.0.0.1', '--no-watch'], {
    cwd: path.dirname(demo),
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const site = `http://127.0.0.1:${port}`;
  const collector = `http://127.0.0.1:${port + 1000}`;
  await until('the banner', () => out.includes(`${site}/`) || child.exitCode !== null, 60_000, () => out);
  assert.equal(child.exitCode, null, out);
  assert.match(out, new RegExp(`\\[collector\\] listening on ${collector.replace(/\./g, '\\.')}`));

  // The run's config: the live site port and the collector URL in my-analytics' endpoint and allowlist.
  const runConfig = readFileSync(path.join(demo, 'bext.demo.toml'), 'utf8');
  assert.match(runConfig, new RegExp(`^port = ${port}$`, 'm'));
  assert.ok(runConfig.includes(`endpoint = "${collector}/ingest"`), runConfig);
  assert.ok(runConfig.includes(`allowed_urls = ["${collector}/*"]`), runConfig);
  const settings = runConfig.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  assert.ok(!settings.includes('127.0.0.1:4000'), 'no setting still names the default collector');

  // The pages: the live URLs, and /expensive and /crash as real pages.
  const home = await text(`${site}/`);
  assert.equal(home.status, 200);
  assert.match(home.body, /href="\/expensive\/"/);
  assert.match(home.body, /npm link/);
  const urls = JSON.parse((await text(`${site}/demo.json`)).body);
  assert.equal(urls.collector, collector);
  const expensive = await text(`${site}/expensive`);
  assert.equal(expensive.status, 200);
  assert.equal(expensive.url, `${site}/expensive/`);
  assert.match(expensive.body, /greedy just ran out of fuel/);
  const crash = await text(`${site}/crash`);
  assert.equal(crash.status, 200);
  assert.match(crash.body, /greedy just crashed \(a trap\)/);
  assert.equal((await text(`${site}/demo.js`)).status, 200);

  // What the pages report: greedy's outcomes, from the admin API they read.
  const greedy = await until('greedy to fail twice', async () => {
    const body = JSON.parse((await text(`${site}/__bext/stats/greedy`)).body);
    const h = (body.plugins?.greedy ?? body).hooks.find((x) => x.hook === 'on_request_complete');
    return h && h.outcomes.out_of_fuel >= 1 && h.outcomes.trap >= 1 ? h : null;
  });
  assert.ok(greedy.calls >= 5);

  // my-analytics batched those requests to the moved collector (batch_size 5).
  const batches = await until('a batch at the moved collector', async () => {
    const b = JSON.parse((await text(`${collector}/batches`)).body);
    return b.length > 0 ? b : null;
  });
  assert.equal(batches[0].events.length, 5);
  assert.equal(batches[0].events[0].path, '/');

  child.kill('SIGINT');
  assert.equal(await exited, 0, out);
  const gone = await fetch(`${collector}/`).then(() => 'answered', () => 'closed');
  assert.equal(gone, 'closed', 'the collector stops with the demo');
});
