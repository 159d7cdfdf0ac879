// emit_metric samples → Prometheus text via createMetrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createMetrics, metricKind, sanitizeMetricName, LIMITS } from '../../dist/host/metrics/prometheus.js';

process.env.BEXT_LOG ??= 'silent';

const line = (text, prefix) => text.split('\n').filter((l) => l.startsWith(prefix));

test('counters add up per plugin and tag set', async () => {
  const m = createMetrics();
  m.record({ plugin: 'a', name: 'page_views_total', value: 1, tags: { path: '/x' } });
  m.record({ plugin: 'a', name: 'page_views_total', value: 2, tags: { path: '/x' } });
  m.record({ plugin: 'a', name: 'page_views_total', value: 5, tags: { path: '/y' } });
  m.record({ plugin: 'b', name: 'page_views_total', value: 0.5, tags: { path: '/x' } });
  m.record({ plugin: 'a', name: 'signups', value: 1, tags: {} }); // no suffix: a counter too
  const text = await m.render();
  assert.ok(text.includes('# TYPE page_views_total counter'));
  assert.deepEqual(line(text, 'page_views_total{').sort(), [
    'page_views_total{plugin="a",path="/x"} 3',
    'page_views_total{plugin="a",path="/y"} 5',
    'page_views_total{plugin="b",path="/x"} 0.5',
  ]);
  assert.deepEqual(line(text, 'signups'), ['signups{plugin="a"} 1']);
  assert.match(m.contentType, /text\/plain/);
});

test('unit-suffixed names are histograms with unit-sized buckets', async () => {
  assert.equal(metricKind('render_ms'), 'histogram');
  assert.equal(metricKind('upload_bytes'), 'histogram');
  assert.equal(metricKind('db_seconds'), 'histogram');
  assert.equal(metricKind('requests_total'), 'counter');
  const m = createMetrics();
  for (const v of [3, 7, 40, 4000]) m.record({ plugin: 'p', name: 'render_ms', value: v, tags: { route: 'home' } });
  const text = await m.render();
  assert.ok(text.includes('# TYPE render_ms histogram'));
  assert.ok(text.includes('render_ms_bucket{le="5",plugin="p",route="home"} 1'), text);
  assert.ok(text.includes('render_ms_bucket{le="10",plugin="p",route="home"} 2'));
  assert.ok(text.includes('render_ms_bucket{le="50",plugin="p",route="home"} 3'));
  assert.ok(text.includes('render_ms_bucket{le="+Inf",plugin="p",route="home"} 4'));
  assert.ok(text.includes('render_ms_sum{plugin="p",route="home"} 4050'));
  assert.ok(text.includes('render_ms_count{plugin="p",route="home"} 4'));
});

test('invalid names are sanitised or refused; bad values and tags are refused', async () => {
  assert.equal(sanitizeMetricName('cache.hit-rate'), 'cache_hit_rate');
  assert.equal(sanitizeMetricName('5xx_total'), '_5xx_total');
  assert.equal(sanitizeMetricName('é'), null);
  assert.equal(sanitizeMetricName('bext_http_responses_total'), 'plugin_bext_http_responses_total');
  assert.equal(sanitizeMetricName(''), null);
  assert.equal(sanitizeMetricName('x'.repeat(LIMITS.maxNameLength + 1)), null);
  const m = createMetrics();
  m.record({ plugin: 'p', name: 'cache.hits', value: 2, tags: { 'my-tag': 'v', plugin: 'spoof', le: '1' } });
  m.record({ plugin: 'p', name: '', value: 1, tags: {} });
  m.record({ plugin: 'p', name: 'bad_value_total', value: Number.NaN, tags: {} });
  m.record({ plugin: 'p', name: 'inf_total', value: Infinity, tags: {} });
  m.record({ plugin: 'p', name: 'neg_total', value: -1, tags: {} });
  m.record({ plugin: 'p', name: 'label"escape', value: 1, tags: { v: 'quote " and \\ and\nnewline' } });
  const text = await m.render();
  assert.deepEqual(line(text, 'cache_hits{'), ['cache_hits{plugin="p",my_tag="v",tag_le="1",tag_plugin="spoof"} 2']);
  assert.ok(!text.includes('bad_value_total{'));
  assert.ok(!text.includes('inf_total{'));
  assert.ok(!text.includes('neg_total{'));
  assert.deepEqual(line(text, 'label_escape{'), ['label_escape{plugin="p",v="quote \\" and \\\\ and\\nnewline"} 1']);
});

test('label set is fixed by the first sample; missing tags are empty, extra tags dropped', async () => {
  const m = createMetrics();
  m.record({ plugin: 'p', name: 'hits_total', value: 1, tags: { a: '1' } });
  m.record({ plugin: 'p', name: 'hits_total', value: 1, tags: { a: '1', b: '2' } });
  m.record({ plugin: 'p', name: 'hits_total', value: 1, tags: {} });
  const text = await m.render();
  assert.deepEqual(line(text, 'hits_total{').sort(), ['hits_total{plugin="p",a=""} 1', 'hits_total{plugin="p",a="1"} 2']);
});

test('cardinality is capped per metric and in the number of names', async () => {
  const m = createMetrics();
  for (let i = 0; i < LIMITS.maxSeriesPerMetric + 50; i++) m.record({ plugin: 'p', name: 'ids_total', value: 1, tags: { id: String(i) } });
  // Existing series keep counting after the cap is reached.
  m.record({ plugin: 'p', name: 'ids_total', value: 1, tags: { id: '0' } });
  let text = await m.render();
  assert.equal(line(text, 'ids_total{').length, LIMITS.maxSeriesPerMetric);
  assert.ok(text.includes('ids_total{plugin="p",id="0"} 2'));
  for (let i = 0; i < LIMITS.maxMetrics + 10; i++) m.record({ plugin: 'p', name: `m${i}_total`, value: 1, tags: {} });
  text = await m.render();
  assert.equal(line(text, '# TYPE').length, LIMITS.maxMetrics);
  // Two registries never share state.
  assert.ok(!(await createMetrics().render()).includes('ids_total'));
});

test('a refused or renamed metric logs one warning line, not one per sample', () => {
  const script = `
    import { createMetrics } from './dist/host/metrics/prometheus.js';
    const m = createMetrics();
    for (let i = 0; i < 100; i++) m.record({ plugin: 'noisy', name: 'cache.hits', value: 1, tags: {} });
    for (let i = 0; i < 100; i++) m.record({ plugin: 'noisy', name: 'x_total', value: -1, tags: {} });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, BEXT_LOG_FORMAT: 'json', BEXT_LOG: 'info' }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(lines.map((l) => [l.level, l.plugin, l.metric]), [[40, 'noisy', 'cache.hits'], [40, 'noisy', 'x_total']]);
  assert.equal(lines[0].as, 'cache_hits');
});
