// createDevServer() as a library: the same server `bext dev` runs, with an idempotent close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../dist/config/index.js';
import { createDevServer } from '../../dist/server/index.js';
import { makeProject, writeConfig, writePlugin } from './helpers.js';

test('createDevServer serves, reports its plugins, and closes once however often close() is called', async () => {
  const dir = makeProject({ 'index.html': 'from the api' });
  writePlugin(dir, 'rec.wasm');
  writeConfig(dir, '[server]\nport = 0\nroot = "./public"\n[plugins.rec]\npath = "./plugins/rec.wasm"\npriority = 7\n');
  const server = await createDevServer(loadConfig(path.join(dir, 'bext.config.toml')), { watch: false });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(server.port, Number(new URL(server.url).port));
  assert.deepEqual(server.plugins().map((p) => [p.name, p.state, p.priority]), [['rec', 'loaded', 7]]);
  assert.deepEqual(server.warnings, []);
  assert.equal(await (await fetch(server.url)).text(), 'from the api');
  const a = server.close('test');
  const b = server.close('again');
  assert.equal(a, b);
  await Promise.all([a, b]);
  await server.close();
  await assert.rejects(fetch(server.url));
});

test('a missing root is a warning, not a crash', async () => {
  const dir = makeProject();
  writeConfig(dir, '[server]\nport = 0\nroot = "./public"\n');
  const cfg = loadConfig(path.join(dir, 'bext.config.toml'));
  const server = await createDevServer({ ...cfg, server: { ...cfg.server, root: path.join(dir, 'nope') } }, { watch: false });
  try {
    assert.ok(server.warnings.some((w) => /nope does not exist/.test(w)), server.warnings.join('\n'));
    const r = await fetch(server.url);
    assert.equal(r.status, 404);
    await r.text();
  } finally {
    await server.close();
  }
});
