/* global document, window, getComputedStyle */
// Live reload in a real browser: `bext dev` (a subprocess) serves a page, headless Debian chromium
// (puppeteer-core) opens it, the test edits files under the root and waits for the page to show
// them, never reloading it itself. A stylesheet edit is applied without a reload (a value set on
// `window` survives it); a page edit reloads. Skipped with a reason when chromium is not installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/cleanup.js';
import { launchChromium, skipWithoutChromium } from '../helpers/toolchains.js';
import { makeProject, startDev, writeConfig } from './dev.js';

const SKIP = skipWithoutChromium();
/** Generous for a busy 2-core machine; the measured latency is printed. */
const WAIT_MS = 30_000;
const page1 = (n) => `<!doctype html><html><head><link rel="stylesheet" href="/style.css"></head><body><h1>version ${n}</h1></body></html>\n`;

describe('live reload in a browser', () => {
  let dir = null;
  let dev = null;
  let browser = null;
  let page = null;

  before(async () => {
    if (SKIP) return;
    dir = makeProject({ 'index.html': page1(1), 'style.css': 'h1 { color: rgb(1, 2, 3); }\n' });
    writeConfig(dir, '[server]\nroot = "./public"\n');
    dev = await startDev(dir);
    browser = await launchChromium(tempDir('bext-chromium-'));
    page = await browser.newPage();
    await page.goto(dev.url, { waitUntil: 'load' });
    // Connected: the server has the stream in its list before it sends the hello that sets this.
    await page.waitForFunction(() => window.__bextLiveReload?.server, { timeout: WAIT_MS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await dev?.stop();
  });

  const h1 = () => page.$eval('h1', (el) => ({ text: el.textContent, color: getComputedStyle(el).color }));

  test('a stylesheet edit applies without reloading the page', { skip: SKIP }, async () => {
    assert.deepEqual(await h1(), { text: 'version 1', color: 'rgb(1, 2, 3)' });
    await page.evaluate(() => {
      window.__notReloaded = true;
    });
    const sent = Date.now();
    writeFileSync(path.join(dir, 'public', 'style.css'), 'h1 { color: rgb(200, 0, 0); }\n');
    await page.waitForFunction(() => getComputedStyle(document.querySelector('h1')).color === 'rgb(200, 0, 0)', { timeout: WAIT_MS, polling: 20 });
    console.log(`# stylesheet swapped ${Date.now() - sent} ms after the write`);
    assert.equal(await page.evaluate(() => window.__notReloaded === true), true, 'the page was not reloaded');
    assert.equal(await page.$$eval('link[rel="stylesheet"]', (ls) => ls.length), 1, 'the old stylesheet was removed');
  });

  test('a page edit shows the new content (the page reloads itself)', { skip: SKIP }, async () => {
    await page.waitForFunction(() => window.__bextLiveReload?.server, { timeout: WAIT_MS });
    const sent = Date.now();
    writeFileSync(path.join(dir, 'public', 'index.html'), page1(2));
    // The heading shows as soon as the new document is parsed; its stylesheet counts once it loaded.
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'version 2' && document.readyState === 'complete', { timeout: WAIT_MS, polling: 20 });
    console.log(`# page reloaded ${Date.now() - sent} ms after the write`);
    assert.equal(await page.evaluate(() => window.__notReloaded), undefined, 'a reload starts a new window object');
    assert.equal((await h1()).color, 'rgb(200, 0, 0)');
  });

  test('tabs share one stream: eight open tabs all reload', { skip: SKIP }, async () => {
    // One stream per tab would hold six of the browser's six connections per host with six tabs.
    const tabs = [page];
    for (let i = 0; i < 7; i++) {
      const p = await browser.newPage();
      await p.goto(dev.url, { waitUntil: 'load' });
      tabs.push(p);
    }
    for (const p of tabs) {
      await p.waitForFunction(() => window.__bextLiveReload?.server, { timeout: WAIT_MS });
      assert.equal(await p.evaluate(() => window.__bextLiveReload.via), 'shared-worker');
    }
    writeFileSync(path.join(dir, 'public', 'index.html'), page1(3));
    for (const p of tabs) {
      await p.waitForFunction(() => document.querySelector('h1')?.textContent === 'version 3', { timeout: WAIT_MS, polling: 20 });
    }
    // And the site still answers while every tab is open.
    assert.equal(await tabs[7].evaluate(async () => (await fetch('/style.css')).status), 200);
  });
});
