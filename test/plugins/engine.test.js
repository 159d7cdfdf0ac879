// The plugin engine: a config entry becomes a running plugin with fetch, metrics and call recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createPluginEngine, inspectPluginFile, PluginSupervisor } from '../../dist/plugins/index.js';
import { mod, pluginFor } from '../runtime/helpers.js';

const REQUEST = '{"url":"https://not-allowed.example/","method":"GET","headers":[]}';
const NAME = 'hits_total';

const PLUGIN = mod(
  `(data (i32.const 16) "${REQUEST.replaceAll('"', '\\"')}")
   (data (i32.const 200) "${NAME}")
   (func (export "on_reload")
     (drop (call $fetch (i32.const 16) (i32.const ${REQUEST.length})))
     (call $metric (i32.const 200) (i32.const ${NAME.length}) (f64.const 2) (i32.const 0) (i32.const 0)))
   (func (export "on_server_stop") (result i32) (i32.const 7))`,
  {
    imports: `(import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
              (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))`,
  },
);

function recorder() {
  const calls = [];
  const refused = [];
  const dropped = [];
  return {
    calls,
    refused,
    dropped,
    record: (r) => calls.push(r),
    recordFetchRefused: (plugin, url, reason) => refused.push({ plugin, url, reason }),
    recordDropped: (plugin, hook, n) => dropped.push({ plugin, hook, n }),
  };
}

test('start: hooks run with fetch refusals, metrics and call results reported', async () => {
  const plugin = pluginFor(PLUGIN, { name: 'eng' });
  const rec = recorder();
  const metrics = [];
  const engine = createPluginEngine({ stateDir: plugin.stateDir, recorder: rec, onMetric: (m) => metrics.push(m) });
  const handle = await engine.start(plugin);
  try {
    assert.deepEqual(handle.info.hooks.sort(), ['on_reload', 'on_server_stop']);
    const ok = await handle.call({ hook: 'on_reload' });
    assert.equal(ok.outcome, 'ok');
    const failed = await handle.call({ hook: 'on_server_stop' });
    assert.equal(failed.outcome, 'error');
    assert.deepEqual(rec.calls.map((c) => [c.hook, c.outcome]), [['on_reload', 'ok'], ['on_server_stop', 'error']]);
    assert.equal(rec.refused.length, 1);
    assert.equal(rec.refused[0].plugin, 'eng');
    assert.equal(rec.refused[0].url, 'https://not-allowed.example/');
    assert.deepEqual(metrics.map((m) => [m.plugin, m.name, m.value]), [['eng', NAME, 2]]);
  } finally {
    await handle.close();
  }
});

test('start: a module that does not load throws and leaves nothing running', async () => {
  const plugin = pluginFor('(module (func (export "on_reload") (unreachable)) (memory (export "memory") 1))', { name: 'bad' });
  const engine = createPluginEngine({ stateDir: plugin.stateDir });
  await assert.rejects(engine.start({ ...plugin, path: path.join(path.dirname(plugin.path), 'missing.wasm') }), /missing\.wasm/);
});

test('supervisor: starts plugins through the engine and runs stop hooks in priority order', async () => {
  const a = pluginFor(PLUGIN, { name: 'a', priority: 2 });
  const b = pluginFor(PLUGIN, { name: 'b', priority: 1 });
  const rec = recorder();
  const engine = createPluginEngine({ stateDir: a.stateDir, recorder: rec });
  const log = { info() {}, warn() {}, error() {}, debug() {} };
  const sup = new PluginSupervisor({ engine, drops: rec, log });
  assert.deepEqual(await sup.start([a, b]), []);
  assert.deepEqual(sup.infos().map((p) => [p.name, p.state]), [['b', 'loaded'], ['a', 'loaded']]);
  await sup.stop();
  assert.deepEqual(rec.calls.map((c) => `${c.plugin}:${c.hook}`), ['b:on_server_stop', 'a:on_server_stop']);
});

test('inspectPluginFile reports hooks and imports without running the module', async () => {
  const plugin = pluginFor(PLUGIN);
  const report = await inspectPluginFile(plugin.path);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.imports.map((i) => i.name).sort(), ['emit_metric', 'http_fetch']);
});
