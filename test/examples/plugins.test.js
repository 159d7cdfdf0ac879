// Each example plugin, run hook by hook on a private copy of plugins-example/: outcomes under the
// default budgets, and what each plugin leaves behind (storage keys, batches at the collector,
// metrics, logs). Through the real CLI (`bext plugin run NAME HOOK --json`): the first call of each
// plugin's main test, every failing call whose exit code a test checks, and the first call of the
// tests that refuse a permission; the other calls make the same call in this process (callHook:
// the CLI's own hook-call preparation and a fresh plugin engine each time), since one `bext`
// process per hook cost ~0.3 s of CPU and checked the CLI no further.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCollector } from '../../plugins-example/collector.js';
import { callHook, copyProject, runHook, show, storageKeys, storageValue, warmFuelCache, withCollectorPort } from './lib.js';

let collector;
before(async () => {
  collector = await startCollector({ port: 0, quiet: true });
  await warmFuelCache();
});
after(async () => {
  await collector?.close();
});

function ok(r, hook) {
  assert.ok(r.result, show(r));
  assert.equal(r.code, 0, show(r));
  assert.equal(r.result.outcome, 'ok', show(r));
  assert.equal(r.result.hook, hook);
  assert.ok(r.result.fuelUsed > 0 && r.result.fuelUsed < r.result.budget, `fuel ${r.result.fuelUsed} of ${r.result.budget}`);
}

/** my-analytics keeps its buffer as one JSON object per line. */
function jsonLines(text) {
  assert.ok(text !== null, 'no buffer key');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function logText(r) {
  return r.result.logs.map((l) => `${l.level} ${l.msg ?? l.message ?? ''}`).join('\n');
}

// Each test works on its own project copy, so they run side by side (each run is a process).
describe('example plugins', { concurrency: 3 }, () => {
  test('my-analytics buffers events in storage, flushes a batch of batch_size to the endpoint, and the rest in cleanup', async () => {
    const p = copyProject(withCollectorPort(collector.port));
    try {
      collector.batches.length = 0;
      const start = await runHook(p.config, 'my-analytics', 'on_server_start', { endpoint: `${collector.url}/ingest`, batch_size: 5 });
      ok(start, 'on_server_start');
      assert.match(logText(start), /batches of 5 events/);

      const paths = ['/', '/about.html', '/blog/', '/blog/hello.html', '/blog/fuel.html', '/style.css'];
      for (const [i, path] of paths.slice(0, 4).entries()) {
        const r = await callHook(p.config, 'my-analytics', 'on_request_complete', { path, method: 'GET', status: 200, cache_status: 'MISS', render_time_us: 100 + i, is_bot: false });
        ok(r, 'on_request_complete');
      }
      assert.equal(collector.batches.length, 0, 'nothing is sent before batch_size events');
      assert.deepEqual(await storageKeys(p.config, 'my-analytics'), ['buffer']);
      const buffered = jsonLines(await storageValue(p.config, 'my-analytics', 'buffer'));
      assert.deepEqual(buffered.map((e) => e.path), paths.slice(0, 4));

      const fifth = await callHook(p.config, 'my-analytics', 'on_request_complete', { path: paths[4], method: 'GET', status: 200 });
      ok(fifth, 'on_request_complete');
      assert.equal(collector.batches.length, 1);
      assert.equal(collector.batches[0].source, 'my-analytics');
      assert.deepEqual(collector.batches[0].events.map((e) => e.path), paths.slice(0, 5));
      assert.deepEqual(fifth.result.metrics, [{ name: 'analytics_events', value: 5, tags: { trigger: 'batch' } }]);
      assert.deepEqual(await storageKeys(p.config, 'my-analytics'), ['totals'], 'the buffer is gone once delivered');

      ok(await callHook(p.config, 'my-analytics', 'on_request_complete', { path: paths[5], method: 'GET', status: 304 }), 'on_request_complete');
      const cleanup = await callHook(p.config, 'my-analytics', 'cleanup');
      ok(cleanup, 'cleanup');
      assert.equal(collector.batches.length, 2);
      assert.deepEqual(collector.batches[1].events, [{ path: '/style.css', method: 'GET', status: 304 }]);
      assert.deepEqual(cleanup.result.metrics, [{ name: 'analytics_events', value: 1, tags: { trigger: 'cleanup' } }]);
      assert.deepEqual(JSON.parse(await storageValue(p.config, 'my-analytics', 'totals')), { events_sent: 6, batches_sent: 2, failed_flushes: 0, dropped: 0 });

      // Nothing left: cleanup again is a no-op that sends nothing.
      ok(await callHook(p.config, 'my-analytics', 'cleanup'), 'cleanup');
      assert.equal(collector.batches.length, 2);
    } finally {
      p.cleanup();
    }
  });

  test('my-analytics: a refused flush is an error outcome carrying the Rust Err message, and keeps the events', async () => {
    // The endpoint is not covered by allowed_urls, so the host refuses the fetch.
    const p = copyProject((t) => t.replace('batch_size = 5', 'batch_size = 1').replace('http://127.0.0.1:4000/ingest', 'http://127.0.0.1:9/ingest'));
    try {
      const r = await runHook(p.config, 'my-analytics', 'on_request_complete', { path: '/lost', status: 200 });
      assert.equal(r.code, 1, show(r));
      assert.equal(r.result.outcome, 'error');
      assert.match(r.result.message, /^could not deliver 1 event to http:\/\/127\.0\.0\.1:9\/ingest: fetch failed: .+ \(kept for the next flush\)$/);
      assert.match(r.stdout + r.stderr, /could not deliver 1 event/);
      const kept = jsonLines(await storageValue(p.config, 'my-analytics', 'buffer'));
      assert.deepEqual(kept.map((e) => e.path), ['/lost']);
      assert.equal(JSON.parse(await storageValue(p.config, 'my-analytics', 'totals')).failed_flushes, 1);
    } finally {
      p.cleanup();
    }
  });

  test('my-analytics rejects a config without endpoint with a message naming the problem', async () => {
    const p = copyProject();
    try {
      const r = await callHook(p.config, 'my-analytics', 'on_server_start', { batch_size: 3 });
      assert.equal(r.result.outcome, 'error', show(r));
      assert.match(r.result.message, /missing field `endpoint`/);
      const bad = await callHook(p.config, 'my-analytics', 'on_server_start', { endpoint: 'ftp://x', batch_size: 3 });
      assert.match(bad.result.message, /endpoint "ftp:\/\/x" must be an http:\/\/ or https:\/\/ URL/);
    } finally {
      p.cleanup();
    }
  });

  test('cache-auditor counts tagged and untagged writes and invalidations in its KV namespace', async () => {
    const p = copyProject();
    try {
      const w1 = await runHook(p.config, 'cache-auditor', 'on_cache_write', { key: 'page:/blog/', tags: ['blog', 'section:"news"'] });
      ok(w1, 'on_cache_write');
      assert.deepEqual(w1.result.metrics, [{ name: 'cache_writes', value: 1, tags: { tagged: 'yes' } }]);
      const w2 = await callHook(p.config, 'cache-auditor', 'on_cache_write', { key: 'page:/about.html', tags: [] });
      ok(w2, 'on_cache_write');
      assert.deepEqual(w2.result.metrics, [{ name: 'cache_writes', value: 1, tags: { tagged: 'no' } }]);
      assert.match(logText(w2), /page:\/about\.html was cached without tags \(1 untagged so far\)/);

      const none = await callHook(p.config, 'cache-auditor', 'on_cache_invalidate', { pattern: 'page:/nope/*', count: 0 });
      ok(none, 'on_cache_invalidate');
      assert.match(logText(none), /^warn invalidation pattern page:\/nope\/\* matched no cache entries/m);
      const three = await callHook(p.config, 'cache-auditor', 'on_cache_invalidate', { pattern: 'page:/blog/*', count: 3 });
      ok(three, 'on_cache_invalidate');
      assert.deepEqual(three.result.metrics, [{ name: 'cache_invalidated_entries', value: 3, tags: { pattern: 'page:/blog/*' } }]);

      // The audit is read back from KV on start.
      const start = await callHook(p.config, 'cache-auditor', 'on_server_start', {});
      ok(start, 'on_server_start');
      assert.match(logText(start), /cache audit so far: 2 writes \(1 untagged\), 2 invalidations removing 3 entries/);
    } finally {
      p.cleanup();
    }
  });

  test('cache-auditor without its KV namespace permission reports the refusal as an error', async () => {
    const p = copyProject((t) => t.replace('kv_namespaces = ["cache-audit"]', 'kv_namespaces = []'));
    try {
      const r = await runHook(p.config, 'cache-auditor', 'on_cache_write', { key: 'page:/', tags: ['home'] });
      assert.equal(r.result.outcome, 'error', show(r));
      assert.match(r.result.message, /cache-audit KV write failed: permission denied \(-2\)/);
    } finally {
      p.cleanup();
    }
  });

  test('bot-counter counts bots and humans in storage, emits metrics, queues bot hits and drains them on reload', async () => {
    const p = copyProject();
    try {
      ok(await runHook(p.config, 'bot-counter', 'on_server_start', { queue: 'bot-hits' }), 'on_server_start');
      for (const path of ['/robots.txt', '/blog/']) {
        const r = await callHook(p.config, 'bot-counter', 'on_request_complete', { path, status: 200, is_bot: true });
        ok(r, 'on_request_complete');
        assert.deepEqual(r.result.metrics, [{ name: 'bot_requests', value: 1, tags: { path } }]);
      }
      const human = await callHook(p.config, 'bot-counter', 'on_request_complete', { path: '/', status: 200, is_bot: false });
      ok(human, 'on_request_complete');
      assert.deepEqual(human.result.metrics, [{ name: 'human_requests', value: 1, tags: {} }]);
      assert.equal(await storageValue(p.config, 'bot-counter', 'bots'), '2');
      assert.equal(await storageValue(p.config, 'bot-counter', 'humans'), '1');

      const reload = await callHook(p.config, 'bot-counter', 'on_reload');
      ok(reload, 'on_reload');
      assert.match(logText(reload), /2 bot hits since the last reload: \/robots\.txt, \/blog\//);
      assert.deepEqual(reload.result.metrics, [{ name: 'bot_hits_drained', value: 2, tags: {} }]);
      const again = await callHook(p.config, 'bot-counter', 'on_reload');
      assert.deepEqual(again.result.metrics, [{ name: 'bot_hits_drained', value: 0, tags: {} }], 'the queue was drained');

      const stop = await callHook(p.config, 'bot-counter', 'on_server_stop');
      ok(stop, 'on_server_stop');
      assert.match(logText(stop), /requests so far: 2 from bots, 1 from humans/);
    } finally {
      p.cleanup();
    }
  });

  test('bot-counter without queue permission returns an error naming the queue', async () => {
    const p = copyProject((t) => t.replace('queue_names = ["bot-hits"]', 'queue_names = []'));
    try {
      const r = await runHook(p.config, 'bot-counter', 'on_request_complete', { path: '/', is_bot: true });
      assert.equal(r.result.outcome, 'error', show(r));
      assert.equal(r.result.message, 'could not publish to queue bot-hits: permission denied (is it listed in queue_names?)');
    } finally {
      p.cleanup();
    }
  });

  test('greedy spends a large share of its budget, runs out of fuel on /expensive and traps on /crash', async () => {
    const p = copyProject();
    try {
      ok(await callHook(p.config, 'greedy', 'on_server_start', {}), 'on_server_start');
      const normal = await callHook(p.config, 'greedy', 'on_request_complete', { path: '/', status: 200 });
      ok(normal, 'on_request_complete');
      assert.ok(normal.result.fuelUsed > 20_000_000, `greedy used only ${normal.result.fuelUsed} fuel`);
      assert.deepEqual(normal.result.metrics, [{ name: 'greedy_primes', value: 7837, tags: {} }], 'primes below 80000');

      const expensive = await runHook(p.config, 'greedy', 'on_request_complete', { path: '/expensive', status: 404 });
      assert.equal(expensive.code, 1);
      assert.equal(expensive.result.outcome, 'out_of_fuel', show(expensive));
      assert.equal(expensive.result.fuelUsed, expensive.result.budget);
      assert.equal(expensive.result.budget, 100_000_000);

      const crash = await callHook(p.config, 'greedy', 'on_request_complete', { path: '/crash', status: 404 });
      assert.equal(crash.result.outcome, 'trap', show(crash));
      assert.match(crash.result.trapKind ?? crash.result.message, /unreachable/);

      // A call after both failures gets a fresh budget and succeeds.
      ok(await callHook(p.config, 'greedy', 'on_request_complete', { path: '/again', status: 200 }), 'on_request_complete');
    } finally {
      p.cleanup();
    }
  });
});
