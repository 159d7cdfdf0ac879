// Host services wired into the real dev server: a refused fetch shows in stats, emit_metric in
// /__bext/metrics, and storage outlives the server process (read back with the CLI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { makeProject, writeConfig, startDev } from '../server/helpers.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/dev-plugin.wat');

test('bext dev: refused fetch counted, metric exposed, storage persisted', async () => {
  const dir = makeProject({ 'index.html': '<h1>hi</h1>' });
  fs.writeFileSync(path.join(dir, 'plugins', 'svc.wasm'), wat(fs.readFileSync(fixture, 'utf8')));
  writeConfig(dir, `
[server]
root = "./public"
[plugins.svc]
path = "./plugins/svc.wasm"
`);
  const dev = await startDev(dir);
  try {
    const metrics = await dev.waitFor(async () => {
      const text = await (await fetch(new URL('/__bext/metrics', dev.url))).text();
      return text.includes('plugin_starts_total{') ? text : null;
    }, 30_000, 'the plugin metric');
    assert.match(metrics, /^plugin_starts_total\{plugin="svc",via="dev"\} 1$/m);
    const stats = await (await fetch(new URL('/__bext/stats/svc', dev.url))).json();
    const refused = stats.plugins.svc.fetchRefused;
    assert.equal(refused.count, 1);
    assert.match(JSON.stringify(refused.top), /allowed_urls is empty \(no network\)/);
    // The log comes on bext's stderr, which can trail the HTTP answers above.
    const warn = await dev.waitFor(() => dev.logs().find((l) => l.msg === 'http_fetch refused'), 30_000, 'the refusal in the log');
    assert.equal(warn.level, 40);
    assert.equal(warn.plugin, 'svc');
    assert.equal(warn.url, 'http://127.0.0.1:9/blocked');
  } finally {
    await dev.stop();
  }
  const r = bext(['plugin', 'storage', 'svc', '--get', 'started'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'yes\n');
});
