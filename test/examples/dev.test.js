// End to end: the demo project under `bext dev` with all four example plugins and the collector.
// Real HTTP requests, then what the plugins did: batches at the collector, live stats with each
// outcome, Prometheus metrics, and the cleanup flush on shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCollector } from '../../plugins-example/collector.js';
import { bext, bextSpawn } from '../helpers/cli.js';
import { copyProject, show, until, withCollectorPort } from './lib.js';

/** Starts `bext dev -p 0` in a project; resolves once the banner shows the URL. */
function startDev(config) {
  const child = bextSpawn(['dev', '-p', '0', '--no-watch', '-c', config], { cwd: config.replace(/[/\\][^/\\]+$/, '') });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bext dev did not start in 60 s\nstdout: ${stdout}\nstderr: ${stderr}`)), 60_000);
    const check = () => {
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    };
    child.stdout.on('data', check);
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`bext dev exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`)); });
  });
  return { child, ready, exited, out: () => ({ stdout, stderr }) };
}

async function stats(url, name) {
  const r = await fetch(`${url}/__bext/stats/${name}`);
  assert.equal(r.status, 200);
  const body = await r.json();
  return body.plugins?.[name] ?? body;
}

function hook(s, name) {
  return s.hooks.find((h) => h.hook === name);
}

test('the demo under bext dev: batches reach the collector, every plugin is counted, greedy fails safely, cleanup flushes', { timeout: 120_000 }, async () => {
  const collector = await startCollector({ port: 0, quiet: true });
  const p = copyProject(withCollectorPort(collector.port));
  const dev = startDev(p.config);
  try {
    const url = await dev.ready;
    // /expensive/ and /crash/ are real pages (what greedy does to them happens after they are sent).
    const pages = ['/', '/about.html', '/blog/', '/blog/hello.html', '/expensive/', '/crash/', '/blog/fuel.html'];
    for (const path of pages) {
      const r = await fetch(url + path);
      await r.arrayBuffer();
      assert.equal(r.status, 200, path);
    }
    const bot = await fetch(`${url}/blog/`, { headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } });
    await bot.arrayBuffer();
    const inv = await fetch(`${url}/__bext/cache/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pattern: 'page:/blog/*' }) });
    assert.equal(inv.status, 200);
    const removed = (await inv.json()).removed;

    // my-analytics: the first 5 events arrive as one batch, in request order.
    await until('the first batch', () => collector.batches.length >= 1, 30_000);
    assert.deepEqual(collector.batches[0].events.map((e) => e.path), pages.slice(0, 5));
    assert.equal(collector.batches[0].events[0].method, 'GET');

    // Every event reached every plugin that wants it (hooks run off the request path).
    const total = pages.length + 1;
    const greedy = await until('greedy to see every request', async () => {
      const s = await stats(url, 'greedy');
      return hook(s, 'on_request_complete')?.calls === total ? s : null;
    }, 30_000);
    const grc = hook(greedy, 'on_request_complete');
    assert.equal(grc.outcomes.out_of_fuel, 1, JSON.stringify(grc.outcomes));
    assert.equal(grc.outcomes.trap, 1);
    assert.equal(grc.outcomes.ok, total - 2);
    assert.equal(grc.fuel.max, 100_000_000, 'the out-of-fuel call used its whole budget');

    const bots = await until('bot-counter', async () => {
      const s = await stats(url, 'bot-counter');
      return hook(s, 'on_request_complete')?.calls === total ? s : null;
    }, 30_000);
    assert.equal(hook(bots, 'on_request_complete').outcomes.ok, total);

    const auditor = await until('cache-auditor', async () => {
      const s = await stats(url, 'cache-auditor');
      return hook(s, 'on_cache_invalidate')?.calls === 1 ? s : null;
    }, 30_000);
    assert.equal(hook(auditor, 'on_cache_invalidate').outcomes.ok, 1);
    assert.ok(hook(auditor, 'on_cache_write').calls >= 4, 'one write per cached 200 page');
    assert.equal(hook(auditor, 'on_cache_write').outcomes.ok, hook(auditor, 'on_cache_write').calls);

    // Each plugin has its own queue: my-analytics may still be working through the last events.
    const analytics = await until('my-analytics to see every request', async () => {
      const s = await stats(url, 'my-analytics');
      return hook(s, 'on_request_complete')?.calls === total ? s : null;
    }, 30_000);
    assert.equal(hook(analytics, 'on_request_complete').outcomes.ok, total);
    assert.equal(hook(analytics, 'on_server_start').outcomes.ok, 1);

    const metrics = await (await fetch(`${url}/__bext/metrics`)).text();
    assert.match(metrics, /^analytics_events\{plugin="my-analytics",trigger="batch"\} 5$/m);
    assert.match(metrics, /^bot_requests\{plugin="bot-counter",path="\/blog\/"\} 1$/m);
    assert.match(metrics, /^human_requests\{plugin="bot-counter"\} 7$/m);
    assert.match(metrics, new RegExp(`^cache_invalidated_entries\\{plugin="cache-auditor",pattern="page:/blog/\\*"\\} ${removed}$`, 'm'));

    // The failures were logged with plugin, hook and reason (on stderr, which can trail the stats).
    await until('the failures in the log', () => /"plugin":"greedy".*"outcome":"out_of_fuel"/.test(dev.out().stderr) && /"plugin":"greedy".*"outcome":"trap"/.test(dev.out().stderr), 30_000, () => dev.out().stderr);

    // Shutdown: cleanup flushes the 3 remaining events; exit 0.
    dev.child.kill('SIGINT');
    const { code } = await dev.exited;
    assert.equal(code, 0, JSON.stringify(dev.out()));
    assert.equal(collector.batches.length, 2);
    assert.deepEqual(collector.batches[1].events.map((e) => e.path), ['/crash/', '/blog/fuel.html', '/blog/']);
    assert.equal(collector.batches[1].events[2].is_bot, true);

    // Stats persisted: the CLI reads them without a server.
    const persisted = bext(['plugin', 'stats', 'greedy', '--json', '-c', p.config]);
    assert.equal(persisted.code, 0, show(persisted));
    const gs = JSON.parse(persisted.stdout);
    const g = gs.plugins?.greedy ?? gs;
    assert.equal(hook(g, 'on_request_complete').outcomes.out_of_fuel, 1);
  } finally {
    if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    await collector.close();
    p.cleanup();
  }
});

test('a Rust hook returning Err shows its message in the server log and in stats', { timeout: 120_000 }, async () => {
  // Endpoint outside allowed_urls and batch_size 1: every event's flush is refused. The other
  // three plugins are switched off: the test above runs them, and here they only cost CPU.
  const p = copyProject((t) => t.replace('batch_size = 5', 'batch_size = 1').replace('http://127.0.0.1:4000/ingest', 'http://127.0.0.1:9/ingest')
    .replace(/^\[plugins\.(cache-auditor|bot-counter|greedy)\]\n/gm, '$&enabled = false\n'));
  const dev = startDev(p.config);
  try {
    const url = await dev.ready;
    await (await fetch(`${url}/about.html`)).arrayBuffer();
    const s = await until('the error outcome', async () => {
      const st = await stats(url, 'my-analytics');
      return hook(st, 'on_request_complete')?.outcomes.error === 1 ? st : null;
    }, 30_000);
    const h = hook(s, 'on_request_complete');
    assert.match(JSON.stringify(h.lastFailure), /could not deliver 1 event to http:\/\/127\.0\.0\.1:9\/ingest: fetch failed/);
    await until('the log line', () => /could not deliver 1 event to http:\/\/127\.0\.0\.1:9\/ingest/.test(dev.out().stderr), 30_000);
    assert.match(dev.out().stderr, /"plugin":"my-analytics"/);

    dev.child.kill('SIGINT');
    assert.equal((await dev.exited).code, 0);
    // cleanup tried once more and failed the same way: also an error outcome, persisted.
    const persisted = bext(['plugin', 'stats', 'my-analytics', '--json', '-c', p.config]);
    const ms = JSON.parse(persisted.stdout);
    const m = ms.plugins?.['my-analytics'] ?? ms;
    assert.equal(hook(m, 'cleanup').outcomes.error, 1, persisted.stdout);
    assert.match(JSON.stringify(hook(m, 'cleanup').lastFailure), /could not deliver 1 event/);
  } finally {
    if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    p.cleanup();
  }
});
