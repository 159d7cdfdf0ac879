// End to end: a real wasm plugin (WAT) calls every host service through the runtime's worker,
// sync bridge and ABI adapter; the results are checked in SQLite, over HTTP and in metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wat } from '../helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../../dist/plugins/index.js';
import { createFetchHandler } from '../../dist/host/fetch/index.js';
import { createMetrics } from '../../dist/host/metrics/prometheus.js';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { tempDir, init, enc, dec } from './harness.js';

process.env.BEXT_LOG ??= 'silent';
const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/services-plugin.wat');

test('a WAT plugin uses storage, KV, queues, http_fetch and metrics through the runtime', async (t) => {
  const server = http.createServer((req, res) => res.end(`hello from ${req.url}`));
  // Closed whatever happens below (a failed set-up must not leave the file running forever).
  t.after(() => server.close());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const dir = tempDir('bext-e2e-');
  const wasmPath = path.join(dir, 'services.wasm');
  fs.writeFileSync(wasmPath, wat(fs.readFileSync(fixture, 'utf8')));
  const plugin = {
    ...defaultPluginConfig(wasmPath),
    name: 'e2e',
  };
  plugin.permissions = { ...plugin.permissions, allowed_urls: [`http://127.0.0.1:${port}/*`], kv_namespaces: ['shared'], queue_names: ['jobs'] };
  const stateDir = path.join(dir, '.bext');
  const fetch = createFetchHandler(plugin, {});
  const metrics = createMetrics();
  let s = null;
  t.after(() => s?.close());
  const handle = await loadPlugin({
    plugin,
    stateDir,
    onMetric: (s) => metrics.record(s),
    onMainCall: (_name, op, payload) => (op === 'http_fetch' ? fetch(payload) : Promise.resolve('{"status":0,"error":"unknown op"}')),
  });
  try {
    const request = JSON.stringify({ url: `http://127.0.0.1:${port}/ping`, method: 'GET' });
    const r = await handle.call({ hook: 'on_server_start', configJson: request });
    assert.equal(r.outcome, 'ok', JSON.stringify(r));
  } finally {
    await handle.close();
    await fetch.close();
  }
  s = createWorkerServices(init('e2e', path.join(stateDir, 'state.db'), { kv_namespaces: ['shared'], queue_names: ['jobs'] }));
  const request = JSON.stringify({ url: `http://127.0.0.1:${port}/ping`, method: 'GET' });
  assert.equal(dec(s.storageGet(enc('hits'))), request);
  assert.equal(dec(s.storageGet(enc('copy'))), request);
  assert.equal(dec(s.kvGet('shared', enc('k'))), 'v');
  assert.equal(dec(s.queueConsume('jobs')), 'k');
  const response = JSON.parse(dec(s.storageGet(enc('fetch'))));
  assert.equal(response.status, 200);
  assert.equal(response.body, 'hello from /ping');
  assert.match(await metrics.render(), /^hits_total\{plugin="e2e",route="home"\} 3$/m);
});
