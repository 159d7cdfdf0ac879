// Lifecycle through the real `bext dev`: start order, a plugin whose start fails, hot reload of a
// good and a broken .wasm, config edits (invalid and valid), site edits, POST reload, SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeProject, writeConfig, writePlugin, fixtureWasm, startDev } from './helpers.js';

let dir;
let dev;
const plugins = (extraB = '') =>
  '[server]\nroot = "./public"\n' +
  '[plugins.alpha]\npath = "./plugins/alpha.wasm"\npriority = 1\n[plugins.alpha.config]\nmood = "calm"\n' +
  `[plugins.beta]\npath = "./plugins/beta.wasm"\npriority = 2\n[plugins.beta.config]\nlevel = 1${extraB}\n` +
  '[plugins.broken]\npath = "./plugins/broken.wasm"\npriority = 3\n';

const logsFrom = (start) => dev.logs().slice(start);
const guestFrom = (start) => logsFrom(start).filter((l) => l.source === 'guest').map((l) => l.msg);
const bextMsgs = (start) => logsFrom(start).filter((l) => l.source !== 'guest').map((l) => l.msg);

before(async () => {
  dir = makeProject({ 'index.html': 'v1 of the page' });
  writePlugin(dir, 'alpha.wasm', 'recorder.wat', 'a1');
  writePlugin(dir, 'beta.wasm', 'recorder.wat', 'b1');
  writePlugin(dir, 'broken.wasm', 'failing-start.wat');
  writeConfig(dir, plugins());
  dev = await startDev(dir);
});

after(async () => {
  if (dev) await dev.stop('SIGKILL');
});

test('start: on_server_start in priority order with each config; a failing start is reported and skipped', async () => {
  // The banner (stdout) can reach this test before the start-up log lines (stderr).
  const g = await dev.waitFor(() => {
    const lines = guestFrom(0);
    return lines.length >= 2 ? lines : null;
  }, 30_000, 'the start lines');
  assert.deepEqual(g.slice(0, 2), ['a1 start {"mood":"calm"}', 'b1 start {"level":1}']);
  assert.match(dev.stdout(), /Plugins \(2 loaded, 1 failed\)/);
  assert.match(dev.stdout(), /✗ broken\s+on_server_start failed \(trap/);
  assert.match(dev.stdout(), /✓ alpha\s+priority 1\s+on_server_start 500M/);
  const res = await fetch(dev.url);
  assert.equal(await res.text(), 'v1 of the page');
  const info = await (await fetch(dev.url + '__bext/plugins')).json();
  assert.deepEqual(info.map((p) => [p.name, p.state]), [['alpha', 'loaded'], ['beta', 'loaded'], ['broken', 'failed']]);
});

test('a changed .wasm reloads that plugin alone: cleanup on the old, on_server_start on the new', async () => {
  const mark = dev.logs().length;
  writeFileSync(path.join(dir, 'plugins', 'alpha.wasm'), fixtureWasm('recorder.wat', 'a2'));
  await dev.waitFor(() => guestFrom(mark).includes('a2 start {"mood":"calm"}'), 30_000, 'a2 start');
  const g = guestFrom(mark);
  assert.ok(g.indexOf('a1 cleanup') >= 0 && g.indexOf('a1 cleanup') < g.indexOf('a2 start {"mood":"calm"}'), g.join('\n'));
  // Events and cache writes of earlier requests may still arrive (they are delivered off the
  // request path); anything else would mean beta was reloaded or restarted.
  const late = (m) => m.startsWith('b1 event ') || m.startsWith('b1 write ');
  assert.ok(!g.some((m) => m.startsWith('b1 ') && !late(m)), `beta was not touched:\n${g.join('\n')}`);
  await (await fetch(dev.url + '?after-reload')).text();
  await dev.waitFor(() => guestFrom(mark).some((m) => m.startsWith('a2 event ')), 30_000, 'event on the new instance');
});

test('a broken .wasm does not replace the running plugin; the error is shown', async () => {
  const mark = dev.logs().length;
  writeFileSync(path.join(dir, 'plugins', 'alpha.wasm'), Buffer.from('this is not wasm'));
  const msg = await dev.waitFor(() => bextMsgs(mark).find((m) => /alpha: the new version failed to load; the running one keeps serving/.test(m)), 30_000, 'load error');
  assert.match(msg, /wasm/i);
  await (await fetch(dev.url + '?still-a2')).text();
  await dev.waitFor(() => guestFrom(mark).some((m) => m.startsWith('a2 event ') && m.includes('still-a2')), 30_000, 'a2 still serving');
  assert.ok(!guestFrom(mark).includes('a2 cleanup'));
});

test('an invalid config edit is refused and the running config stays', async () => {
  const mark = dev.logs().length;
  writeConfig(dir, plugins().replace('priority = 2', 'priorty = 2'));
  const msg = await dev.waitFor(() => bextMsgs(mark).find((m) => m.startsWith('config change not applied')), 30_000, 'config error');
  assert.match(msg, /priorty/);
  const info = await (await fetch(dev.url + '__bext/plugins')).json();
  assert.equal(info.find((p) => p.name === 'beta').state, 'loaded');
});

test('a valid config edit reconfigures what changed and sends on_reload to the others', async () => {
  const mark = dev.logs().length;
  writeConfig(dir, plugins('\nextra = "yes"'));
  await dev.waitFor(() => guestFrom(mark).includes('b1 start {"level":1,"extra":"yes"}'), 30_000, 'beta restarted with new config');
  await dev.waitFor(() => guestFrom(mark).includes('a2 reload'), 30_000, 'on_reload on alpha');
  const g = guestFrom(mark);
  assert.ok(g.includes('b1 cleanup'));
  assert.ok(!g.includes('b1 reload'), 'the reconfigured plugin is restarted, not sent on_reload');
});

test('a changed site file clears the cache and runs on_reload', async () => {
  const first = await fetch(dev.url);
  await first.text();
  const hit = await fetch(dev.url);
  assert.equal(hit.headers.get('x-bext-cache'), 'HIT');
  await hit.text();
  const mark = dev.logs().length;
  writeFileSync(path.join(dir, 'public', 'index.html'), 'v2 of the page');
  await dev.waitFor(() => guestFrom(mark).includes('a2 reload') && guestFrom(mark).includes('b1 reload'), 30_000, 'on_reload after a site edit');
  const fresh = await fetch(dev.url);
  assert.equal(fresh.headers.get('x-bext-cache'), 'MISS');
  assert.equal(await fresh.text(), 'v2 of the page');
});

test('POST /__bext/reload reloads every plugin from disk and reports failures', async () => {
  // alpha.wasm is still the broken file: alpha fails to reload and keeps running.
  let mark = dev.logs().length;
  let r = await fetch(dev.url + '__bext/reload', { method: 'POST', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200);
  let body = await r.json();
  assert.deepEqual(body.failed.map((f) => f.name).sort(), ['alpha', 'broken']);
  // The running alpha is not the file on disk: it is listed as stale, with the load error.
  assert.equal(body.plugins.find((p) => p.name === 'alpha').state, 'stale');
  assert.match(body.plugins.find((p) => p.name === 'alpha').error, /the new version failed to load/);
  await dev.waitFor(() => guestFrom(mark).includes('b1 start {"level":1,"extra":"yes"}'), 30_000, 'beta restarted');
  assert.ok(!guestFrom(mark).includes('a2 cleanup'));

  writeFileSync(path.join(dir, 'plugins', 'alpha.wasm'), fixtureWasm('recorder.wat', 'a3'));
  await dev.waitFor(() => guestFrom(mark).includes('a3 start {"mood":"calm"}'), 30_000, 'watcher reload to a3');
  mark = dev.logs().length;
  r = await fetch(dev.url + '__bext/reload', { method: 'POST', headers: { 'content-type': 'application/json' } });
  body = await r.json();
  assert.deepEqual(body.failed.map((f) => f.name), ['broken']);
  assert.match(body.failed[0].error, /on_server_start failed/);
  assert.deepEqual(body.reloaded.sort(), ['alpha', 'beta', 'broken']);
  const want = ['a3 cleanup', 'a3 start {"mood":"calm"}', 'b1 cleanup', 'b1 start {"level":1,"extra":"yes"}'];
  await dev.waitFor(() => want.every((m) => guestFrom(mark).includes(m)), 30_000, want.join(', '));
});

test('removing a plugin from the config stops it; adding one starts it', async () => {
  writePlugin(dir, 'gamma.wasm', 'recorder.wat', 'g1');
  const mark = dev.logs().length;
  writeConfig(
    dir,
    '[server]\nroot = "./public"\n' +
      '[plugins.alpha]\npath = "./plugins/alpha.wasm"\npriority = 1\n[plugins.alpha.config]\nmood = "calm"\n' +
      '[plugins.gamma]\npath = "./plugins/gamma.wasm"\npriority = 2\n',
  );
  const want = ['b1 stop', 'b1 cleanup', 'g1 start {}', 'a3 reload'];
  await dev.waitFor(() => want.every((m) => guestFrom(mark).includes(m)), 30_000, want.join(', '));
  const g = guestFrom(mark);
  assert.ok(g.indexOf('b1 cleanup') < g.indexOf('g1 start {}'));
  const info = await (await fetch(dev.url + '__bext/plugins')).json();
  assert.deepEqual(info.map((p) => p.name), ['alpha', 'gamma']);
});

test('SIGTERM runs on_server_stop then cleanup in priority order and exits 0', async () => {
  const mark = dev.logs().length;
  const r = await dev.stop('SIGTERM');
  assert.equal(r.code, 0);
  const g = guestFrom(mark).filter((m) => /(stop|cleanup)$/.test(m));
  assert.deepEqual(g, ['a3 stop', 'g1 stop', 'a3 cleanup', 'g1 cleanup']);
});
