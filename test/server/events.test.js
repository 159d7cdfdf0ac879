// on_request_complete events: their fields, the bounded per-plugin queue, and a plugin stuck in
// a loop never slowing responses down.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HookQueue } from '../../dist/plugins/hook-queue.js';
import { isBot } from '../../dist/server/request-event.js';
import { makeProject, writeConfig, writePlugin, startDev } from './helpers.js';

describe('HookQueue', () => {
  test('a full queue drops the oldest entry, reports it, and keeps order', async () => {
    const seen = [];
    const drops = [];
    let unblock;
    let started;
    const gate = new Promise((r) => (unblock = r));
    const inFlight = new Promise((r) => (started = r));
    const q = new HookQueue(
      3,
      async (batch) => {
        for (const args of batch) {
          if (args.eventJson === '0') {
            started();
            await gate;
          }
          seen.push(args.eventJson);
        }
        return batch.length;
      },
      (hook, n) => drops.push([hook, n]),
    );
    q.push({ hook: 'on_request_complete', eventJson: '0' });
    await inFlight;
    for (let i = 1; i < 6; i++) q.push({ hook: 'on_request_complete', eventJson: String(i) });
    // "0" is in flight; 1..5 queued into 3 slots: 1 and 2 dropped.
    assert.equal(q.pending, 3);
    assert.deepEqual(drops, [['on_request_complete', 1], ['on_request_complete', 1]]);
    unblock();
    assert.equal(await q.drain(1000), true);
    assert.deepEqual(seen, ['0', '3', '4', '5']);
    assert.equal(q.droppedTotal, 2);
  });

  test('calls a batch did not run go back to the front of the queue, in order', async () => {
    const batches = [];
    const drops = [];
    let first = true;
    const q = new HookQueue(
      8,
      async (batch) => {
        batches.push(batch.map((a) => a.eventJson));
        if (first) {
          // The second call "timed out": the ones after it did not run.
          first = false;
          return 2;
        }
        return batch.length;
      },
      (hook, n) => drops.push([hook, n]),
    );
    for (let i = 0; i < 5; i++) q.push({ hook: 'on_request_complete', eventJson: String(i) });
    assert.equal(await q.drain(1000), true);
    assert.deepEqual(batches, [['0', '1', '2', '3', '4'], ['2', '3', '4']]);
    assert.deepEqual(drops, []);
    assert.equal(q.droppedTotal, 0);
  });

  test('a burst after a quiet spell is reported at its own rate when it overflows the queue', async () => {
    let unblock;
    const gate = new Promise((r) => (unblock = r));
    let calls = 0;
    const spells = [];
    const q = new HookQueue(
      4,
      async (batch) => {
        if (++calls > 1) await gate;
        return batch.length;
      },
      () => {},
      () => {},
      64,
      (s) => spells.push({ ...s }),
    );
    q.push({ hook: 'on_cache_write', key: 'first', tagsJson: '[]' });
    assert.equal(await q.drain(1000), true);
    // A quiet spell longer than the one-second rate window, then 40 events at once against a
    // call that does not return: the queue of 4 overflows within a millisecond or so.
    await new Promise((r) => setTimeout(r, 1300));
    for (let i = 0; i < 40; i++) q.push({ hook: 'on_cache_write', key: String(i), tagsJson: '[]' });
    assert.equal(spells.length, 1);
    // Averaged over the quiet spell, these would be ~4 to ~30 events/s.
    assert.ok(spells[0].arrivingPerSec >= 1000, `arriving ${spells[0].arrivingPerSec}/s`);
    assert.equal(spells[0].deliveredPerSec, 0);
    unblock();
    assert.equal(await q.drain(1000), true);
  });

  test('while the server thread is saturated, a batch goes once a quarter of the queue waits, so a fast plugin loses nothing', async () => {
    const sizes = [];
    const drops = [];
    const q = new HookQueue(
      400,
      async (batch) => {
        sizes.push(batch.length);
        return batch.length;
      },
      (hook, n) => drops.push([hook, n]),
    );
    // 300 slices of 1 ms of busy main thread, 30 events each (30,000 events/s): the server
    // counts as saturated, and a fixed 20 ms pause between batches would let 600 events pile up
    // in a queue of 400.
    let pushed = 0;
    for (let slice = 0; slice < 300; slice++) {
      await new Promise((r) => setImmediate(r));
      const until = performance.now() + 1;
      while (performance.now() < until);
      for (let i = 0; i < 30; i++) q.push({ hook: 'on_cache_write', key: String(pushed++), tagsJson: '[]' });
    }
    assert.equal(await q.drain(1000), true);
    assert.deepEqual(drops, []);
    assert.equal(sizes.reduce((a, b) => a + b, 0), pushed);
    // Batches were held back while saturated (one call per hundred events or so, not per slice).
    assert.ok(Math.max(...sizes) >= 100, `largest batch ${Math.max(...sizes)}`);
  });

  test('drain gives up after its timeout', async () => {
    const q = new HookQueue(4, () => new Promise(() => {}), () => {});
    q.push({ hook: 'on_cache_write', key: 'k', tagsJson: '[]' });
    assert.equal(await q.drain(50), false);
  });
});

test('is_bot recognises crawlers but not browsers', () => {
  assert.equal(isBot('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'), true);
  assert.equal(isBot('facebookexternalhit/1.1'), true);
  assert.equal(isBot('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36'), true);
  assert.equal(isBot('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15'), false);
  assert.equal(isBot(''), false);
});

test('each response produces one event with the documented fields', async () => {
  const dir = makeProject({ 'page.html': '<p>hello</p>' });
  writePlugin(dir, 'rec.wasm');
  writeConfig(dir, '[server]\nroot = "./public"\ntenant_id = "acme"\nsite_id = "main"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n');
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const before = Date.now();
    await (await fetch(dev.url + 'page.html?ref=x', {
      headers: { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)', referer: 'http://example.com/', 'x-bext-tenant': 'globex' },
    })).text();
    await (await fetch(dev.url + 'page.html?ref=x')).text();
    await (await fetch(dev.url + 'nope')).text();
    const events = await dev.waitFor(() => {
      const evs = dev.guest('rec').filter((m) => m.startsWith('v1 event ')).map((m) => JSON.parse(m.slice(9)));
      return evs.length >= 3 ? evs : null;
    }, 30_000, 'three events');
    assert.equal(events.length, 3);
    const [first, second, missing] = events;
    assert.equal(first.path, '/page.html');
    assert.equal(first.query, 'ref=x');
    assert.equal(first.method, 'GET');
    assert.equal(first.status, 200);
    assert.equal(first.cache_status, 'MISS');
    assert.equal(first.tenant_id, 'globex'); // header beats config
    assert.equal(first.site_id, 'main');
    assert.equal(first.is_bot, true);
    assert.equal(first.user_agent, 'Mozilla/5.0 (compatible; Googlebot/2.1)');
    assert.equal(first.referer, 'http://example.com/');
    assert.equal(first.encoding, 'identity');
    assert.equal(first.bytes, 12);
    assert.ok(Number.isInteger(first.render_time_us) && first.render_time_us > 0);
    assert.ok(first.render_time_us <= first.duration_us);
    assert.ok(first.ts >= before - 5 && first.ts <= Date.now());
    assert.equal(second.cache_status, 'HIT');
    assert.equal(second.tenant_id, 'acme');
    assert.equal(second.is_bot, false);
    assert.equal(missing.status, 404);
    // Admin requests are not site traffic: no events. Events reach the plugin in request order,
    // so once the page requested after it has its event, an admin event would have shown.
    await (await fetch(dev.url + '__bext/plugins')).text();
    await (await fetch(dev.url + 'page.html?after-admin')).text();
    await dev.waitFor(() => dev.guest('rec').some((m) => m.includes('after-admin')), 30_000, 'the event after the admin request');
    assert.equal(dev.guest('rec').filter((m) => m.includes('"/__bext')).length, 0);
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});

test('a plugin stuck in an infinite loop does not slow responses; overflow is counted', async (t) => {
  const dir = makeProject({ 'index.html': 'ok' });
  writePlugin(dir, 'spin.wasm', 'spinner.wat');
  writeConfig(
    dir,
    '[server]\nroot = "./public"\n[cache]\nenabled = false\n' +
      '[plugins.spin]\npath = "./plugins/spin.wasm"\n' +
      // Fuel for minutes: every call runs until timeout_ms stops it, 1 s of wall time each.
      '[plugins.spin.fuel]\non_request_complete = 1_000_000_000_000\n' +
      '[plugins.spin.limits]\ntimeout_ms = 1000\nevent_queue_size = 4\n',
  );
  const dev = await startDev(dir, { args: ['--no-watch'], env: { BEXT_PLUGIN_LOG: 'error' } });
  try {
    const N = 60;
    const times = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const r = await fetch(dev.url);
      assert.equal(await r.text(), 'ok');
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    t.diagnostic(`responses: median ${times[N / 2].toFixed(1)} ms, slowest ${times[N - 1].toFixed(1)} ms`);
    // Counted, not timed (a loaded machine stretches every response): a response that waited for
    // a call, or for room in the queue, would need a call to end first, and each takes 1 s; these
    // ${N} responses came while at most a few calls ended.
    const during = (await (await fetch(dev.url + '__bext/stats/spin')).json()).plugins.spin;
    assert.ok((during?.calls ?? 0) < 20, `${during?.calls} calls ended during ${N} responses`);
    const stats = await dev.waitFor(async () => {
      const s = await (await fetch(dev.url + '__bext/stats/spin')).json();
      const p = s.plugins.spin;
      return p && p.dropped > 0 && p.outcomes.out_of_fuel + p.outcomes.timeout > 0 ? p : null;
    }, 30_000, 'dropped events and stopped calls in stats');
    assert.equal(stats.outcomes.ok, 0);
    const metrics = await (await fetch(dev.url + '__bext/metrics')).text();
    assert.match(metrics, /bext_events_dropped_total\{plugin="spin"\} [1-9]/);
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});
