// Events under load: a plugin that keeps up receives every event however busy the server is;
// only a plugin slower than the traffic loses events, and that is said once in the log and shown
// in stats with the rates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeProject, writeConfig, startDev, writePlugin } from './helpers.js';
import { wat } from '../helpers/wasm.js';

const NOOP = `(module
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_request_complete") (param i32 i32)))`;

/** One GET over `agent`'s kept-alive connections; resolves to the status once the body is read. */
function get(url, agent) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/**
 * `total` GETs of `url`, `concurrency` at a time, on as many kept-alive connections (as fetch
 * would pool them). node:http rather than fetch: for 1536 requests fetch took ~2 s more CPU in
 * this process, which the server under test then had to share the machine with.
 */
async function burst(url, total, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      assert.equal(await get(url, agent), 200);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
}

async function pluginStats(dev, name) {
  return (await (await fetch(`${dev.url}__bext/stats/${name}`)).json()).plugins[name];
}

test('a burst of requests reaches a no-op plugin whole: every event delivered, none dropped', async () => {
  const dir = makeProject({ 'index.html': '<h1>hi</h1>' });
  writeFileSync(path.join(dir, 'plugins', 'noop.wasm'), wat(NOOP));
  // The default queue bound (4096 events), two plugins sharing each event.
  writeConfig(dir, '[server]\nroot = "./public"\n[plugins.a]\npath = "./plugins/noop.wasm"\n[plugins.b]\npath = "./plugins/noop.wasm"\n');
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    // Half again the queue bound: a plugin that fell behind would have to drop some of these.
    const N = 6144;
    await burst(dev.url, N, 32);
    for (const name of ['a', 'b']) {
      const s = await dev.waitFor(async () => {
        const p = await pluginStats(dev, name);
        return p && p.calls + p.dropped >= N ? p : null;
      }, 30_000, `${N} events handled by ${name}`);
      assert.equal(s.dropped, 0, `${name} dropped events`);
      assert.equal(s.calls, N);
      assert.equal(s.outcomes.ok, N);
      assert.equal(s.shedding, undefined);
    }
    assert.equal(dev.logs().filter((l) => /slower than the traffic/.test(l.msg)).length, 0);
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});

test('a plugin slower than the traffic drops the oldest events, counted, warned about once, with rates in stats', async () => {
  const dir = makeProject({ 'index.html': 'ok' });
  writePlugin(dir, 'spin.wasm', 'spinner.wat');
  writeConfig(
    dir,
    '[server]\nroot = "./public"\n[cache]\nenabled = false\n' +
      '[plugins.slow]\npath = "./plugins/spin.wasm"\n' +
      // Every call runs until its fuel is gone: far slower than the requests below.
      '[plugins.slow.fuel]\non_request_complete = 50_000_000\n' +
      '[plugins.slow.limits]\nevent_queue_size = 4\n',
  );
  const dev = await startDev(dir, { args: ['--no-watch'], env: { BEXT_PLUGIN_LOG: 'error' } });
  try {
    const N = 40;
    for (let i = 0; i < N; i++) await (await fetch(dev.url)).text();
    const s = await dev.waitFor(async () => {
      const p = await pluginStats(dev, 'slow');
      return p && p.calls + p.dropped >= N ? p : null;
    }, 60_000, 'every event either called or dropped');
    assert.ok(s.dropped > 0, 'events were dropped');
    assert.equal(s.calls + s.dropped, N);
    assert.equal(s.hooks.find((h) => h.hook === 'on_request_complete').dropped, s.dropped);
    assert.ok(s.shedding, 'stats show the spell of dropping');
    assert.ok(s.shedding.since > 0);
    assert.ok(s.shedding.arrivingPerSec > 0);
    assert.ok(s.shedding.dropped >= 1);
    const warned = () => dev.logs().filter((l) => /slower than the traffic/.test(l.msg));
    await dev.waitFor(() => warned().length > 0, 30_000, 'the warning in the log');
    // Let a second warning, if bext wrongly sent one, reach the log too.
    await new Promise((r) => setTimeout(r, 300));
    const warnings = warned();
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.equal(warnings[0].plugin, 'slow');
    assert.match(warnings[0].msg, /events\/s arrive/);
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});
