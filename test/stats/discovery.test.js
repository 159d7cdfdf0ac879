// `.bext/server.json`: `bext plugin stats` / `plugin list` find a server started with -p on another
// port than the config names, ignore a file left by a server that is gone (with a note), and take
// --url. The file goes away when the server exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, freePort } from '../helpers/cli.js';
import { makeProject, startDev, writePlugin, writeConfig } from '../server/helpers.js';

test('plugin stats and plugin list reach a server started with -p on another port, through .bext/server.json', async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  writePlugin(dir, 'rec.wasm');
  const configured = await freePort();
  const cfg = writeConfig(dir, `[server]\nport = ${configured}\nroot = "./public"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n`);
  const dev = await startDev(dir);
  t.after(() => dev.stop());
  assert.notEqual(new URL(dev.url).port, String(configured));
  assert.match(dev.stdout(), /Dashboard: http:\/\/127\.0\.0\.1:\d+\/__bext\//);
  await fetch(dev.url);
  await dev.waitFor(() => dev.guest('rec').some((m) => m.startsWith('v1 event')), 30_000, 'the event');

  const file = path.join(dir, '.bext', 'server.json');
  const rec = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(rec.url, dev.url);
  assert.equal(rec.pid, dev.child.pid);

  const stats = bext(['plugin', 'stats', 'rec', '-c', cfg, '--json']);
  assert.equal(stats.code, 0, stats.stderr);
  const out = JSON.parse(stats.stdout);
  assert.equal(out.origin.kind, 'live');
  assert.equal(out.origin.url, `${dev.url}__bext/stats/rec`);
  assert.equal(out.plugins.rec.hooks.find((h) => h.hook === 'on_request_complete').calls, 1);

  const list = bext(['plugin', 'list', '-c', cfg, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(JSON.parse(list.stdout).source.kind, 'live');

  // --url wins over the file (here: a port nothing listens on).
  const elsewhere = bext(['plugin', 'stats', 'rec', '-c', cfg, '--url', `http://127.0.0.1:${configured}/__bext/`]);
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.match(elsewhere.stdout, new RegExp(`source: persisted, .*no dev server answering at http://127\\.0\\.0\\.1:${configured}`));
  assert.equal(bext(['plugin', 'list', '-c', cfg, '--url', 'ftp://x']).code, 2);

  assert.equal((await dev.stop()).code, 0);
  assert.equal(existsSync(file), false, 'server.json is removed on exit');

  // A file left behind by a server that was killed names a pid that is not running.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  writeFileSync(file, JSON.stringify({ pid: gone, url: dev.url, startedAt: new Date().toISOString(), config: cfg }));
  const stale = bext(['plugin', 'stats', 'rec', '-c', cfg]);
  assert.equal(stale.code, 0, stale.stderr);
  assert.match(stale.stdout, new RegExp(`no dev server answering at http://127\\.0\\.0\\.1:${configured}; .*server\\.json names pid ${gone}, which is not running`));
});
