/* global document, window */
// The dashboard at /__bext/, in a real browser: `bext dev` (a subprocess, loopback, -p 0) runs three
// WAT plugins (one healthy, one that runs out of fuel, one that traps), the test sends traffic,
// opens the page in headless Debian chromium through puppeteer-core and checks what a person
// sees. Skipped with a reason when chromium is not installed (bash .ci/run installs it).
//
// Screenshots go to the test's temp folder; with BEXT_UPDATE_SCREENSHOTS=1 they replace the ones
// in docs/img/ that docs/dev-server.md shows (so an ordinary test run leaves the tree unchanged).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/cleanup.js';
import { ROOT } from '../helpers/cli.js';
import { launchChromium, skipWithoutChromium } from '../helpers/toolchains.js';
import { wat } from '../helpers/wasm.js';
import { makeProject, startDev, writeConfig } from './helpers.js';

const SKIP = skipWithoutChromium();
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/dashboard');
const SHOTS = process.env.BEXT_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'img') : tempDir('bext-shots-');
const SENT = 4;
const HUNGRY_BUDGET = 50_000;
/** Generous for a busy 2-core machine; the measured latency is printed. */
const LIVE_BOUND_MS = 5_000;
const UI_WAIT_MS = 30_000;

const healthy = (n) => wat(readFileSync(path.join(FIXTURES, 'healthy.wat'), 'utf8').replaceAll('__N__', String(n)));

describe('dashboard in a browser', () => {
  let dev = null;
  let browser = null;
  let page = null;
  let dir = null;

  before(async () => {
    if (SKIP) return;
    mkdirSync(SHOTS, { recursive: true });
    // `npm run build` copies the assets; a bare `tsc` build does not, so make sure they are there.
    if (!existsSync(path.join(ROOT, 'dist', 'server', 'dashboard', 'dashboard.js'))) {
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'copy-assets.js')]);
    }
    dir = makeProject({ 'index.html': '<h1>home</h1>' });
    writeFileSync(path.join(dir, 'plugins', 'healthy.wasm'), healthy(500));
    writeFileSync(path.join(dir, 'plugins', 'hungry.wasm'), wat(readFileSync(path.join(FIXTURES, 'hungry.wat'), 'utf8')));
    writeFileSync(path.join(dir, 'plugins', 'trapper.wasm'), wat(readFileSync(path.join(FIXTURES, 'trapper.wat'), 'utf8')));
    writeConfig(
      dir,
      `[server]\nroot = "./public"\n[cache]\nenabled = false\n` +
        `[plugins.healthy]\npath = "./plugins/healthy.wasm"\n` +
        `[plugins.hungry]\npath = "./plugins/hungry.wasm"\n[plugins.hungry.fuel]\non_request_complete = ${HUNGRY_BUDGET}\n` +
        `[plugins.trapper]\npath = "./plugins/trapper.wasm"\n`,
    );
    // No watcher: the reload below must be the page's doing.
    dev = await startDev(dir, { args: ['--no-watch'] });
    for (let i = 0; i < SENT; i++) assert.equal((await fetch(dev.url)).status, 200);
    await dev.waitFor(async () => {
      const v = await (await fetch(dev.url + '__bext/dashboard')).json();
      const calls = (n) => v.plugins.find((p) => p.name === n)?.current?.hooks[0]?.calls ?? 0;
      return calls('healthy') === SENT && calls('hungry') === SENT && calls('trapper') === SENT;
    }, 20_000, 'the hook calls of the requests');

    browser = await launchChromium(tempDir('bext-chromium-'));
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const started = Date.now();
    await page.goto(dev.url + '__bext/', { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('tr[data-plugin="trapper"]', { timeout: UI_WAIT_MS });
    console.log(`# dashboard drawn ${Date.now() - started} ms after navigation`);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await dev?.stop();
  });

  const text = (sel) => page.$eval(sel, (el) => el.innerText);
  // Clicked inside the page in one step: the tables are redrawn every few seconds.
  const click = (sel) => page.$eval(sel, (el) => el.click());

  test('lists the plugins with their state, language, version and budgets', { skip: SKIP }, async () => {
    for (const name of ['healthy', 'hungry', 'trapper']) {
      assert.equal(await text(`tr[data-plugin="${name}"] [data-role="state"]`), 'loaded', name);
      assert.match(await text(`tr[data-plugin="${name}"] [data-role="hash"]`), /^[0-9a-f]{12}$/);
    }
    const row = await text('tr[data-plugin="hungry"]');
    assert.match(row, /on_request_complete\s+50,000/);
    assert.match(row, /unknown/, 'hand-written WAT has no producers section');
    assert.match(await text('#server'), /pid \d+/);
  });

  test('shows out-of-fuel counts matching the requests sent, and fuel against the budget', { skip: SKIP }, async () => {
    const card = 'article[data-plugin="hungry"] [data-hook="on_request_complete"]';
    assert.equal(await text(`${card} [data-outcome="out_of_fuel"]`), `out of fuel ${SENT}`);
    assert.equal(await text(`${card} [data-outcome="ok"]`), 'ok 0');
    assert.match(await text(card), new RegExp(`${SENT} calls · budget 50,000`));
    // Every call used the whole budget: the max bar reaches the budget line.
    const chart = await page.$eval(`${card} svg[data-role="fuel-chart"]`, (svg) => ({
      title: svg.querySelector('title').textContent,
      line: Number(svg.querySelector('line.budget').getAttribute('x1')),
      bars: [...svg.querySelectorAll('rect.bar')].map((r) => Number(r.getAttribute('x')) + Number(r.getAttribute('width'))),
    }));
    assert.match(chart.title, /max 100\.0%/);
    assert.ok(chart.bars.every((end) => Math.abs(end - chart.line) < 0.5), JSON.stringify(chart));
    assert.equal(await text('article[data-plugin="healthy"] [data-outcome="ok"]'), `ok ${SENT}`);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
  });

  test('lists the trap with its message, input size and guest frame', { skip: SKIP }, async () => {
    const item = '#failure-list li[data-plugin="trapper"]';
    assert.equal(await page.$$eval(item, (els) => els.length), SENT);
    assert.equal(await text(`${item} [data-role="message"]`), 'unreachable');
    const head = await text(`${item} .head`);
    assert.match(head, /on_request_complete/);
    assert.match(head, /trap \(unreachable\)/);
    assert.match(head, /input \d+ B/);
    await click(`${item} [data-role="stack"] summary`);
    assert.match(await text(`${item} [data-role="stack"] pre`), /^parse_event @ 0x[0-9a-f]+\non_request_complete/);
    assert.match(await text('#failure-list li[data-plugin="hungry"] [data-role="message"]'), /all fuel consumed/);
  });

  test('a request shows up in the live stream', { skip: SKIP }, async () => {
    const before = await page.$$eval('#live-list li[data-type="failure"][data-plugin="trapper"]', (els) => els.length);
    const sent = Date.now();
    assert.equal((await fetch(dev.url)).status, 200);
    await page.waitForFunction(
      (n) => document.querySelectorAll('#live-list li[data-type="failure"][data-plugin="trapper"]').length > n,
      { timeout: LIVE_BOUND_MS, polling: 20 },
      before,
    );
    const latency = Date.now() - sent;
    console.log(`# live failure event shown ${latency} ms after the request`);
    assert.ok(latency < LIVE_BOUND_MS);
    assert.match(await text('#live-list li[data-type="failure"][data-plugin="trapper"]'), /trap: unreachable/);
    assert.equal(await text('#conn'), '● live');
  });

  test('Reload loads the new version; the previous version\'s figures are kept and marked', { skip: SKIP }, async () => {
    const oldHash = await text('tr[data-plugin="healthy"] [data-role="hash"]');
    writeFileSync(path.join(dir, 'plugins', 'healthy.wasm'), healthy(900));
    await click('button[data-action="reload"][data-plugin="healthy"]');
    await page.waitForFunction(
      (h) => document.querySelector('tr[data-plugin="healthy"] [data-role="hash"]')?.textContent !== h,
      { timeout: UI_WAIT_MS },
      oldHash,
    );
    // The table can show the new version (a stats refresh or the live stream) before the page
    // has the answer to its own POST, which is what writes the result line.
    await page.waitForFunction(() => /healthy reloaded|reload failed/.test(document.getElementById('action-result').textContent), { timeout: UI_WAIT_MS });
    assert.match(await text('#action-result'), /healthy reloaded/);
    const card = 'article[data-plugin="healthy"]';
    await page.waitForSelector(`${card} [data-role="previous-version"]`, { timeout: UI_WAIT_MS });
    assert.match(await text(`${card} [data-role="previous-version"] summary`), new RegExp(`previous version ${oldHash} .*module changed`));
    // The running version starts from zero.
    assert.match(await text(card), /no calls since this version was loaded/);
  });

  test('a failed reload shows the plugin as stale with the error; the old version keeps serving', { skip: SKIP }, async () => {
    const file = path.join(dir, 'plugins', 'trapper.wasm');
    const good = readFileSync(file);
    writeFileSync(file, Buffer.from('not a wasm module'));
    try {
      await click('button[data-action="reload"][data-plugin="trapper"]');
      await page.waitForSelector('tr[data-plugin="trapper"][data-state="stale"]', { timeout: UI_WAIT_MS });
      assert.equal(await text('tr[data-plugin="trapper"] [data-role="state"]'), 'stale (reload failed)');
      assert.ok((await text('tr[data-plugin="trapper"] [data-role="error"]')).length > 0);
      assert.match(await text('#action-result'), /trapper: reload failed/);
    } finally {
      writeFileSync(file, good);
    }
  });

  test('cache invalidation and stats reset run from the page', { skip: SKIP }, async () => {
    await page.type('#invalidate-value', 'page:/*');
    await page.click('#invalidate-form button');
    await page.waitForFunction(() => /page:\/\*: \d+ cache entr/.test(document.getElementById('action-result').textContent), { timeout: UI_WAIT_MS });
    await page.select('#reset-plugin', 'hungry');
    await page.click('#reset-form button');
    await page.waitForFunction(() => !document.querySelector('#failure-list li[data-plugin="hungry"]'), { timeout: UI_WAIT_MS });
    assert.match(await text('#action-result'), /stats reset for hungry/);
    const stats = await (await fetch(dev.url + '__bext/stats')).json();
    assert.equal(stats.plugins.hungry, undefined, 'the persisted stats were reset too');
  });

  test('fits a narrow window without sideways scrolling', { skip: SKIP }, async () => {
    await page.setViewport({ width: 420, height: 900 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the window`);
    // The plugins table stacks into one card per plugin: its state and error are on screen, not
    // in a box scrolled sideways.
    const hidden = await page.evaluate(() => {
      const box = document.querySelector('#plugins .scroll');
      return box.scrollWidth - box.clientWidth;
    });
    assert.ok(hidden <= 1, `the plugins table hides ${hidden}px sideways`);
    const state = await page.evaluate(() => {
      const r = document.querySelector('tr[data-plugin="trapper"] [data-role="state"]').getBoundingClientRect();
      return { left: r.left, right: r.right };
    });
    assert.ok(state.left >= 0 && state.right <= 420, JSON.stringify(state));
    await page.screenshot({ path: path.join(SHOTS, 'dashboard-narrow.png') });
  });
});
