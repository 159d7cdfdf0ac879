// After a hot reload that fails to load, the version still running is listed as stale with the
// load error (`/__bext/plugins` and `bext plugin list`), not as plain `loaded`; a later good
// version makes it `loaded` again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bextAsync } from '../helpers/cli.js';
import { makeProject, writeConfig, writePlugin, fixtureWasm, startDev } from './helpers.js';

test('a failed reload leaves the running version listed as stale with the error', async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  writePlugin(dir, 'alpha.wasm', 'recorder.wat', 'a1');
  const config = writeConfig(dir, '[server]\nroot = "./public"\n[plugins.alpha]\npath = "./plugins/alpha.wasm"\n');
  // On a port bext picks (a port picked here could be taken first); `plugin list` finds it
  // through .bext/server.json, written before the banner this waits for.
  const dev = await startDev(dir);
  t.after(() => dev.stop('SIGKILL'));
  const info = async () => (await (await fetch(dev.url + '__bext/plugins')).json()).find((p) => p.name === 'alpha');
  assert.equal((await info()).state, 'loaded');

  writeFileSync(path.join(dir, 'plugins', 'alpha.wasm'), Buffer.from('this is not wasm'));
  const stale = await dev.waitFor(async () => ((await info()).state === 'stale' ? info() : null), 30_000, 'stale state');
  assert.match(stale.error, /^the new version failed to load; the running one keeps serving: .*wasm/i);
  assert.deepEqual(stale.hooks.length > 0, true, 'the running version still lists its hooks');

  const listed = await bextAsync(['plugin', 'list', '--json', '-c', config], { cwd: dir });
  assert.equal(listed.code, 0, listed.stderr);
  const row = JSON.parse(listed.stdout).plugins.find((p) => p.name === 'alpha');
  assert.equal(row.state, 'stale');
  assert.equal(row.error, stale.error);
  const text = await bextAsync(['plugin', 'list', '-c', config], { cwd: dir });
  assert.match(text.stdout, /^alpha +stale +/m);
  assert.match(text.stdout, /^ +error: the new version failed to load; the running one keeps serving/m);

  // The old version still serves events; a good file brings the state back to loaded.
  writeFileSync(path.join(dir, 'plugins', 'alpha.wasm'), fixtureWasm('recorder.wat', 'a2'));
  await dev.waitFor(() => dev.guest('alpha').includes('a2 start {}'), 30_000, 'a2 start');
  const back = await info();
  assert.equal(back.state, 'loaded');
  assert.equal(back.error, undefined);
});
