// The stats recorder: exact counts, histogram percentiles, persistence, --since buckets, resets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openStats, readPersisted, resetPersisted, parseSince } from '../../dist/stats/index.js';
import { tempDir } from '../helpers/cleanup.js';

function tmpDb() {
  const dir = tempDir('bext-stats-');
  return path.join(dir, '.bext', 'state.db');
}

function call(over = {}) {
  return { plugin: 'a', hook: 'on_request_complete', outcome: 'ok', fuelUsed: 1000, budget: 100_000, wallUs: 50, ...over };
}

/** A clock tests move by hand. */
function clock(start = Date.UTC(2026, 0, 15, 12, 0, 0)) {
  const c = { t: start, now: () => c.t };
  return c;
}

function within(actual, expected, rel, what) {
  assert.ok(Math.abs(actual - expected) <= Math.max(1, expected * rel), `${what}: ${actual} not within ${rel * 100}% of ${expected}`);
}

test('counts, outcomes and fuel/time distributions are exact (percentiles within histogram precision)', () => {
  const r = openStats({ dbPath: tmpDb(), flushIntervalMs: 0 });
  const outcomes = ['ok', 'error', 'out_of_fuel', 'trap', 'timeout', 'crashed'];
  // Fuel 1000, 2000, ..., 1,000,000 (1000 calls); outcome cycles so each count is known.
  for (let i = 1; i <= 1000; i++) {
    r.record(call({ fuelUsed: i * 1000, wallUs: i, outcome: outcomes[i % 6], budget: 2_000_000 }));
  }
  r.record(call({ skipped: true, fuelUsed: 0 }));
  const s = r.snapshot();
  assert.equal(s.version, 1);
  assert.equal(s.source, 'live');
  const h = s.plugins.a.hooks[0];
  assert.equal(h.hook, 'on_request_complete');
  assert.equal(h.calls, 1000, 'skipped results are not counted');
  const expected = Object.fromEntries(outcomes.map((o, k) => [o, Array.from({ length: 1000 }, (_, i) => (i + 1) % 6).filter((x) => x === k).length]));
  assert.deepEqual(h.outcomes, expected);
  assert.deepEqual(s.plugins.a.outcomes, expected);
  assert.equal(h.fuel.total, 500_500_000);
  assert.equal(h.fuel.avg, 500_500);
  assert.equal(h.fuel.min, 1000);
  assert.equal(h.fuel.max, 1_000_000);
  within(h.fuel.p50, 500_000, 0.001, 'fuel p50');
  within(h.fuel.p99, 990_000, 0.001, 'fuel p99');
  assert.equal(h.fuel.budget, 2_000_000);
  assert.equal(h.fuel.maxPctOfBudget, 50);
  assert.equal(h.timeUs.avg, 500.5);
  assert.equal(h.timeUs.max, 1000);
  within(h.timeUs.p50, 500, 0.001, 'time p50');
  within(h.timeUs.p99, 990, 0.001, 'time p99');
  r.close();
});

test('a constant workload reports its exact fuel at every percentile', () => {
  const r = openStats({ dbPath: tmpDb(), flushIntervalMs: 0 });
  for (let i = 0; i < 250; i++) r.record(call({ fuelUsed: 12_345_678, budget: 15_000_000 }));
  const f = r.snapshot('a').plugins.a.hooks[0].fuel;
  assert.deepEqual([f.min, f.p50, f.p99, f.max, f.avg], [12_345_678, 12_345_678, 12_345_678, 12_345_678, 12_345_678]);
  assert.equal(Math.round(f.maxPctOfBudget * 1000) / 1000, 82.305);
  r.close();
});

test('max share of budget is tracked per call when the budget changes', () => {
  const r = openStats({ dbPath: tmpDb(), flushIntervalMs: 0 });
  r.record(call({ fuelUsed: 900, budget: 1000 }));
  r.record(call({ fuelUsed: 1500, budget: 1_000_000 }));
  const f = r.snapshot().plugins.a.hooks[0].fuel;
  assert.equal(f.max, 1500);
  assert.equal(f.budget, 1_000_000, 'budget is the most recent call\'s');
  assert.equal(f.maxPctOfBudget, 90);
  r.close();
});

test('dropped events and refused fetches are counted', () => {
  const r = openStats({ dbPath: tmpDb(), flushIntervalMs: 0 });
  r.recordDropped('a', 'on_request_complete');
  r.recordDropped('a', 'on_request_complete', 4);
  r.recordDropped('b', 'on_cache_write', 2);
  r.recordFetchRefused('a', 'https://x.example/', 'not in allowed_urls');
  r.recordFetchRefused('a', 'https://x.example/', 'not in allowed_urls');
  r.recordFetchRefused('a', 'http://10.0.0.1/', 'private address');
  const s = r.snapshot();
  assert.equal(s.plugins.a.dropped, 5);
  assert.equal(s.plugins.a.hooks[0].calls, 0);
  assert.equal(s.plugins.b.hooks[0].hook, 'on_cache_write');
  assert.equal(s.plugins.b.dropped, 2);
  assert.equal(s.plugins.a.fetchRefused.count, 3);
  assert.deepEqual(
    s.plugins.a.fetchRefused.top.map((x) => [x.url, x.reason, x.count]),
    [['https://x.example/', 'not in allowed_urls', 2], ['http://10.0.0.1/', 'private address', 1]],
  );
  assert.deepEqual(r.plugins(), ['a', 'b']);
  assert.deepEqual(Object.keys(r.snapshot('b').plugins), ['b']);
  assert.deepEqual(r.snapshot('nope').plugins, {});
  r.close();
});

test('stats survive close and reopen, and read the same from the store alone', () => {
  const db = tmpDb();
  const c = clock();
  let r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  for (let i = 1; i <= 100; i++) {
    r.record(call({ fuelUsed: 10_000 + i, wallUs: 100 + i, outcome: i % 10 === 0 ? 'trap' : 'ok' }));
    if (i % 25 === 0) c.t += 61_000; // spread over several minute buckets
  }
  r.record(call({ hook: 'on_server_start', fuelUsed: 5, budget: 500_000_000 }));
  r.recordDropped('a', 'on_request_complete', 3);
  r.recordFetchRefused('a', 'https://x/', 'r');
  const before = r.snapshot();
  r.close();
  r.record(call()); // after close: ignored, no throw

  const persisted = readPersisted(db);
  assert.equal(persisted.source, 'persisted');
  assert.deepEqual(persisted.plugins, before.plugins);

  r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  assert.deepEqual(r.snapshot().plugins, before.plugins, 'a reopened recorder starts from the stored totals');
  r.record(call({ fuelUsed: 1 }));
  const h = r.snapshot('a').plugins.a.hooks.find((x) => x.hook === 'on_request_complete');
  assert.equal(h.calls, 101);
  assert.equal(h.fuel.min, 1);
  r.close();
  assert.equal(readPersisted(db).plugins.a.hooks.find((x) => x.hook === 'on_request_complete').calls, 101);
});

test('periodic flush writes without close', async () => {
  const db = tmpDb();
  const r = openStats({ dbPath: db, flushIntervalMs: 20 });
  r.record(call());
  // Several flush periods at least; on a busy machine, more.
  const end = Date.now() + 10_000;
  while (readPersisted(db).plugins.a?.calls !== 1 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  assert.equal(readPersisted(db).plugins.a?.calls, 1);
  r.close();
});

test('--since scopes to minute buckets, live (flushes first) and persisted', () => {
  const db = tmpDb();
  const c = clock();
  const t0 = c.t;
  const r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  for (let i = 0; i < 10; i++) r.record(call({ fuelUsed: 100 }));
  c.t = t0 + 30 * 60_000;
  for (let i = 0; i < 5; i++) r.record(call({ fuelUsed: 700 }));
  const recent = r.snapshot('a', { since: t0 + 20 * 60_000 });
  assert.equal(recent.since, new Date(t0 + 20 * 60_000).toISOString());
  assert.equal(recent.plugins.a.calls, 5);
  assert.equal(recent.plugins.a.hooks[0].fuel.min, 700);
  assert.equal(r.snapshot('a').plugins.a.calls, 15, 'without since: all time');
  // A since inside a minute includes that whole minute's bucket.
  assert.equal(r.snapshot('a', { since: t0 + 59_000 }).plugins.a.calls, 10 + 5);
  assert.equal(r.snapshot('a', { since: t0 + 60_000 }).plugins.a.calls, 5);
  r.close();
  assert.equal(readPersisted(db, { since: t0 + 20 * 60_000 }).plugins.a.calls, 5);
  assert.equal(readPersisted(db, { since: t0 + 40 * 60_000 }).plugins.a, undefined);
});

test('old minute buckets are compacted into hour buckets without changing totals', () => {
  const db = tmpDb();
  const c = clock();
  const t0 = c.t;
  const r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  for (let m = 0; m < 30; m++) {
    r.record(call({ fuelUsed: 1000 + m }));
    c.t += 60_000;
  }
  r.flush();
  const before = r.snapshot().plugins;
  c.t = t0 + 10 * 3_600_000;
  r.record(call({ fuelUsed: 5 }));
  r.flush();
  r.close();
  const sql = new Database(db, { readonly: true });
  const rows = sql.prepare("SELECT bucket, span, calls FROM stats_hook_buckets WHERE plugin = 'a' ORDER BY bucket").all();
  sql.close();
  assert.deepEqual(rows.map((x) => [x.span, x.calls]), [[3_600_000, 30], [60_000, 1]]);
  const after = readPersisted(db).plugins.a.hooks[0];
  assert.equal(after.calls, 31);
  assert.equal(after.fuel.total, before.a.hooks[0].fuel.total + 5);
  assert.equal(after.fuel.max, 1029);
});

test('reset clears one plugin or all, also when done by another process', () => {
  const db = tmpDb();
  const r = openStats({ dbPath: db, flushIntervalMs: 0 });
  r.record(call({ plugin: 'a' }));
  r.record(call({ plugin: 'b' }));
  r.flush();
  r.record(call({ plugin: 'a' })); // pending, not yet flushed
  r.reset('a');
  assert.deepEqual(Object.keys(r.snapshot().plugins), ['b']);
  r.flush();
  assert.deepEqual(Object.keys(readPersisted(db).plugins), ['b']);

  r.record(call({ plugin: 'a', fuelUsed: 42 }));
  r.flush();
  // Another process (the CLI) resets b in the store: the live recorder follows at its next snapshot.
  assert.ok(resetPersisted(db, 'b') >= 1);
  assert.deepEqual(Object.keys(r.snapshot().plugins), ['a']);
  assert.equal(r.snapshot().plugins.a.hooks[0].fuel.max, 42);
  resetPersisted(db);
  assert.deepEqual(r.snapshot().plugins, {});
  r.close();
  assert.deepEqual(readPersisted(db).plugins, {});
});

test('two recorders on one database merge into the same buckets', () => {
  const db = tmpDb();
  const c = clock();
  const r1 = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  const r2 = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  for (let i = 0; i < 7; i++) r1.record(call({ fuelUsed: 10 }));
  for (let i = 0; i < 3; i++) r2.record(call({ fuelUsed: 30, outcome: 'error' }));
  r1.close();
  r2.close();
  const h = readPersisted(db).plugins.a.hooks[0];
  assert.equal(h.calls, 10);
  assert.equal(h.outcomes.error, 3);
  assert.equal(h.fuel.total, 160);
  assert.equal(h.fuel.p99, 30);
});

test('readPersisted on a missing database is empty and creates nothing', () => {
  const db = tmpDb();
  const s = readPersisted(db);
  assert.deepEqual(s.plugins, {});
  assert.equal(fs.existsSync(path.dirname(db)), false);
});

test('parseSince reads durations and ISO dates and rejects anything else', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);
  assert.equal(parseSince('10m', now), now - 600_000);
  assert.equal(parseSince('2h', now), now - 7_200_000);
  assert.equal(parseSince('1d', now), now - 86_400_000);
  assert.equal(parseSince('30s', now), now - 30_000);
  assert.equal(parseSince('2026-01-15T11:00:00Z', now), now - 3_600_000);
  assert.equal(parseSince('2026-01-14', now), Date.parse('2026-01-14'));
  for (const bad of ['', 'yesterday', '10', '5y', '2026-13-45', '2027-01-01']) {
    assert.throws(() => parseSince(bad, now), (e) => e.name === 'BextError' && e.exitCode === 2 && /--since/.test(e.message), bad);
  }
});

test('the last failure per hook is kept, persisted, scoped by since and cleared by reset', () => {
  const db = tmpDb();
  const c = clock();
  const t0 = c.t;
  let r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  r.record(call({ outcome: 'error', message: 'first' }));
  c.t += 1000;
  r.record(call({ outcome: 'trap', message: 'unreachable executed', trapKind: 'unreachable' }));
  c.t += 1000;
  r.record(call({ outcome: 'ok' }));
  r.record(call({ hook: 'on_reload', outcome: 'ok' }));
  const want = { outcome: 'trap', message: 'unreachable executed', trapKind: 'unreachable', at: t0 + 1000 };
  assert.deepEqual(r.snapshot().plugins.a.hooks.find((h) => h.hook === 'on_request_complete').lastFailure, want);
  assert.equal(r.snapshot().plugins.a.hooks.find((h) => h.hook === 'on_reload').lastFailure, null);
  r.close();
  assert.deepEqual(readPersisted(db).plugins.a.hooks.find((h) => h.hook === 'on_request_complete').lastFailure, want);
  r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  c.t = t0 + 3_600_000;
  r.record(call({ outcome: 'ok' }));
  assert.deepEqual(r.snapshot().plugins.a.hooks[0].lastFailure, want, 'survives reopen');
  assert.equal(r.snapshot('a', { since: t0 + 1_800_000 }).plugins.a.hooks[0].lastFailure, null, 'older than since');
  r.record(call({ outcome: 'timeout', message: 'x'.repeat(2000) }));
  assert.equal(r.snapshot().plugins.a.hooks[0].lastFailure.message.length, 500);
  r.reset('a');
  r.record(call({ outcome: 'ok' }));
  r.close();
  assert.equal(readPersisted(db).plugins.a.hooks[0].lastFailure, null);
});

test('refused fetches group by URL without query and by reason with numbers masked, newest wording shown', () => {
  const db = tmpDb();
  const c = clock();
  const r = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  r.recordFetchRefused('a', 'http://127.0.0.1:4000/ingest?t=1', 'rate limited: max_fetch_per_minute is 30; next token in 711 ms');
  c.t += 1;
  r.recordFetchRefused('a', 'http://127.0.0.1:4000/ingest?t=2', 'rate limited: max_fetch_per_minute is 30; next token in 959 ms');
  r.flush();
  c.t += 61_000; // next minute bucket
  r.recordFetchRefused('a', 'http://127.0.0.1:4000/ingest', 'rate limited: max_fetch_per_minute is 30; next token in 12 ms');
  r.recordFetchRefused('a', 'http://127.0.0.1:4000/ingest', 'http://127.0.0.1:4000/ingest is not in allowed_urls');
  const want = [
    ['http://127.0.0.1:4000/ingest', 'rate limited: max_fetch_per_minute is 30; next token in 12 ms', 3],
    ['http://127.0.0.1:4000/ingest', 'http://127.0.0.1:4000/ingest is not in allowed_urls', 1],
  ];
  const shape = (s) => s.plugins.a.fetchRefused.top.map((x) => [x.url, x.reason, x.count]);
  assert.deepEqual(shape(r.snapshot()), want);
  r.close();
  assert.deepEqual(shape(readPersisted(db)), want);
  assert.equal(readPersisted(db).plugins.a.fetchRefused.count, 4);
});

test('bad numbers and unknown outcomes never corrupt the counters', () => {
  const r = openStats({ dbPath: tmpDb(), flushIntervalMs: 0 });
  r.record(call({ outcome: 'something_new', fuelUsed: NaN, wallUs: -5 }));
  r.record(call({ fuelUsed: 2 ** 60, wallUs: Infinity }));
  const h = r.snapshot().plugins.a.hooks[0];
  assert.equal(h.calls, 2);
  assert.equal(h.outcomes.crashed, 1);
  assert.equal(h.outcomes.ok, 1);
  assert.equal(h.lastFailure.outcome, 'crashed');
  assert.equal(h.fuel.min, 0);
  assert.equal(h.fuel.max, Number.MAX_SAFE_INTEGER);
  assert.equal(h.timeUs.max, 0);
  assert.ok(Object.values(h.outcomes).every(Number.isInteger));
  r.close();
});

test('stats tables from an older state.db move over by column name (a newer column stays empty)', async () => {
  const { StatsStore, moveLegacyStats } = await import('../../dist/stats/store.js');
  const dir = tempDir('bext-stats-legacy-');
  const legacy = new Database(path.join(dir, 'state.db'));
  // stats_last_failure as it was before it kept frames.
  legacy.exec(`CREATE TABLE stats_last_failure (plugin TEXT NOT NULL, hook TEXT NOT NULL, outcome TEXT NOT NULL,
    message TEXT NOT NULL, trap_kind TEXT, at INTEGER NOT NULL, PRIMARY KEY (plugin, hook))`);
  legacy.prepare('INSERT INTO stats_last_failure VALUES (?, ?, ?, ?, ?, ?)').run('a', 'on_reload', 'trap', 'unreachable', 'unreachable', 1234);
  legacy.close();
  const store = new StatsStore(path.join(dir, 'stats.db'));
  try {
    assert.equal(moveLegacyStats(store, path.join(dir, 'state.db')), 1);
    const row = store.db.prepare('SELECT * FROM stats_last_failure').get();
    assert.deepEqual({ ...row }, { plugin: 'a', hook: 'on_reload', outcome: 'trap', message: 'unreachable', trap_kind: 'unreachable', at: 1234, stack: null });
  } finally {
    store.close();
  }
});

test('refused fetches to ever-new URLs keep a bounded number of entries, in memory and on disk; the count stays exact', async () => {
  const { PluginAggregate, MAX_REFUSED_KEYS, OTHER_REFUSED_URL } = await import('../../dist/stats/aggregate.js');
  const agg = new PluginAggregate();
  for (let i = 0; i < 5_000; i++) agg.addRefused(`https://beacon.example/hit/${i}`, `https://beacon.example/hit/${i} is not in allowed_urls`, 1, i);
  assert.ok(agg.refused.size <= MAX_REFUSED_KEYS + 1, `${agg.refused.size} entries`);
  // A URL already kept keeps counting under its own name.
  agg.addRefused('https://beacon.example/hit/0', 'https://beacon.example/hit/0 is not in allowed_urls', 1, 6_000);
  assert.equal(agg.refused.get(`https://beacon.example/hit/0\u0000https://beacon.example/hit/# is not in allowed_urls`)?.count, 2);

  const db = tmpDb();
  const r = openStats({ dbPath: db, flushIntervalMs: 0 });
  for (let i = 0; i < 5_000; i++) r.recordFetchRefused('a', `https://beacon.example/u/${i}x`, `https://beacon.example/u/${i}x is not in allowed_urls`);
  const live = r.snapshot().plugins.a.fetchRefused;
  assert.equal(live.count, 5_000);
  assert.equal(live.top[0].url, OTHER_REFUSED_URL, 'the folded ones lead the list');
  assert.equal(live.top[0].count, 5_000 - MAX_REFUSED_KEYS);
  r.close();
  const rows = new Database(db, { readonly: true }).prepare('SELECT count(*) AS n, sum(count) AS total FROM stats_fetch_refusals').get();
  assert.ok(rows.n <= MAX_REFUSED_KEYS + 1, `${rows.n} rows`);
  assert.equal(rows.total, 5_000);
  assert.equal(readPersisted(db).plugins.a.fetchRefused.count, 5_000);
});

test('histograms kept encoded or as a short list until read give the same figures as built ones', () => {
  const db = tmpDb();
  const c = clock();
  const a = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  // A few calls (kept as a list), then enough for one quantity to build its histogram.
  for (let i = 1; i <= 5; i++) a.record(call({ fuelUsed: i * 100, wallUs: i }));
  for (let i = 1; i <= 300; i++) a.record(call({ hook: 'on_reload', fuelUsed: i * 7, wallUs: i }));
  const live = a.snapshot();
  a.close();
  // Reopened: the stored histograms stay encoded until this snapshot; a flush of untouched totals writes them back as they were.
  const b = openStats({ dbPath: db, flushIntervalMs: 0, now: c.now });
  b.flush();
  assert.deepEqual(b.snapshot().plugins, live.plugins);
  // New calls on top of stored ones: same figures as one recorder that saw them all.
  const all = openStats({ dbPath: tmpDb(), flushIntervalMs: 0, now: c.now });
  for (let i = 1; i <= 5; i++) all.record(call({ fuelUsed: i * 100, wallUs: i }));
  for (let i = 1; i <= 300; i++) all.record(call({ hook: 'on_reload', fuelUsed: i * 7, wallUs: i }));
  for (let i = 1; i <= 3; i++) {
    b.record(call({ fuelUsed: 5000 + i, wallUs: 90 }));
    all.record(call({ fuelUsed: 5000 + i, wallUs: 90 }));
  }
  b.warm();
  assert.deepEqual(b.snapshot().plugins, all.snapshot().plugins);
  b.close();
  all.close();
});

test('a recorder opened later keeps what was recorded before it opened; one never written to creates no file', async () => {
  const { openStatsLater } = await import('../../dist/stats/index.js');
  const db = tmpDb();
  let opened = 0;
  const late = openStatsLater(() => {
    opened++;
    return openStats({ dbPath: db, flushIntervalMs: 0 });
  });
  late.record(call({ hook: 'on_server_start', fuelUsed: 42 }));
  late.recordDropped('a', 'on_request_complete', 3);
  assert.equal(opened, 0);
  late.open();
  late.open();
  assert.equal(opened, 1);
  const s = late.snapshot('a').plugins.a.hooks;
  assert.equal(s.find((h) => h.hook === 'on_server_start').fuel.max, 42);
  assert.equal(s.find((h) => h.hook === 'on_request_complete').dropped, 3);
  late.close();
  assert.equal(readPersisted(db, { plugin: 'a' }).plugins.a.hooks.find((h) => h.hook === 'on_server_start').calls, 1);

  const unused = tmpDb();
  const never = openStatsLater(() => openStats({ dbPath: unused, flushIntervalMs: 0 }));
  never.flush();
  never.close();
  assert.equal(fs.existsSync(unused), false);
});
