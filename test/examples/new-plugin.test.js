// The plugin dev loop with real toolchains, as a user runs it: `bext new plugin` in a fresh site,
// `bext build`, `config check`, then `bext dev`: a saved source is rebuilt and reloaded exactly
// once and the new code runs on the next request; a broken save keeps the old version serving.
// Rust builds are slow, so Rust gets the scaffold + build + one hook call only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, bextSpawn } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { skipWithout } from '../helpers/toolchains.js';
import { CARGO_TARGET_DIR, until } from './lib.js';

const SOURCES = { c: 'plugin.c', assemblyscript: 'assembly/index.ts', rust: 'src/lib.rs' };

/** A fresh site with one new plugin `hello` in `lang`. */
function scaffold(lang) {
  const dir = tempDir(`bext-new-${lang}-`);
  assert.equal(bext(['init'], { cwd: dir }).code, 0);
  const r = bext(['new', 'plugin', 'hello', '--lang', lang], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return { dir, source: path.join(dir, 'plugins', 'hello', SOURCES[lang]) };
}

function buildAndCheck(dir, timeout, env = {}) {
  const b = bext(['build'], { cwd: dir, timeout, env });
  assert.equal(b.code, 0, `bext build failed:\n${b.stderr}`);
  assert.match(b.stdout, /^built\s+hello\s+plugins\/hello\/\S+\.wasm \([\d,]+ bytes/);
  const c = bext(['config', 'check'], { cwd: dir });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /modules: 1 checked, each loads/);
}

/** `bext dev` on any port with plugin info logs as JSON lines; `logs()` are the parsed lines so far. */
function startDev(dir) {
  const child = bextSpawn(['dev', '-p', '0'], { cwd: dir, env: { BEXT_PLUGIN_LOG: 'info', BEXT_LOG_FORMAT: 'json' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  const logs = () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const ready = until('the banner', () => /http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[0], 90_000, () => `stdout: ${stdout}\nstderr: ${stderr}`);
  return {
    ready,
    logs,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const msgs = (dev, from = 0) => dev.logs().slice(from).map((l) => l.msg ?? '');
const count = (list, re) => list.filter((m) => re.test(m)).length;

/** Requests a page, then waits until the plugin logs a line matching `re` for it. */
async function requestAndSee(dev, url, re, from) {
  const r = await fetch(url);
  await r.arrayBuffer();
  await until(`a log line matching ${re}`, () => msgs(dev, from).some((m) => re.test(m)), 30_000, dev.stderr);
}

/** Saves the source with `edit` applied; resolves once its rebuild has reloaded (or failed). */
async function save(dev, source, edit, done) {
  const from = dev.logs().length;
  writeFileSync(source, edit(readFileSync(source, 'utf8')));
  await until(`the rebuild (${done})`, () => msgs(dev, from).some((m) => done.test(m)), 120_000, dev.stderr);
  return from;
}

/** A settle period after a reload: long enough for a second, unwanted one (watcher ~0.3 s) to show. */
const settle = () => new Promise((r) => setTimeout(r, 2_000));

async function editLoop(t, lang, { breakIt = false } = {}) {
  const { dir, source } = scaffold(lang);
  buildAndCheck(dir, 180_000);
  const dev = startDev(dir);
  t.after(() => dev.stop());
  const url = (await dev.ready) + '/';
  // Built just now: nothing to build at start.
  assert.equal(count(msgs(dev), /building/), 0, dev.stderr());
  await requestAndSee(dev, url, /^hello: request done: \{"path":"\/"/, 0);

  const from = await save(dev, source, (s) => s.replace('request done', 'request changed'), /plugin hello reloaded|build failed/);
  await requestAndSee(dev, url, /^hello: request changed: /, from);
  await settle();
  const after = msgs(dev, from);
  assert.equal(count(after, /^plugin hello: \S+ changed: building/), 1, after.join('\n'));
  assert.equal(count(after, /^plugin hello: built in /), 1, after.join('\n'));
  assert.equal(count(after, /^plugin hello reloaded$/), 1, after.join('\n'));
  assert.equal(count(after, /^hello started with config/), 1, 'on_server_start ran once, for the one reload');

  if (!breakIt) return;
  const broken = await save(dev, source, (s) => `${s}\nthis is not valid source;\n`, /build failed|reloaded/);
  assert.ok(msgs(dev, broken).some((m) => /^plugin hello: build failed \(exit code \d+\):$/.test(m)), msgs(dev, broken).join('\n'));
  // The compiler's output follows, line by line, under the plugin's name.
  // Those lines can arrive on bext's stdout after the "build failed" line that ended the wait.
  const output = () => dev.logs().slice(broken).filter((l) => l.plugin === 'hello' && l.source === 'build').map((l) => l.msg);
  await until('the compiler output naming the file', () => output().some((m) => /index\.ts/.test(m)), 10_000, () => output().join('\n'));
  const listed = await (await fetch(`${url}__bext/plugins`)).json();
  const hello = listed.find((p) => p.name === 'hello');
  assert.equal(hello.state, 'stale');
  assert.match(hello.error, /^the build failed; the running version keeps serving: exit code/);
  // The old version still serves: the request is handled by the code that last built.
  await requestAndSee(dev, url, /^hello: request changed: /, broken);
  await settle();
  assert.equal(count(msgs(dev, broken), /reloaded/), 0);
}

test('AssemblyScript: new plugin, bext build, bext dev; a save rebuilds and reloads once; a broken save keeps the old version',
  { timeout: 600_000, skip: skipWithout('assemblyscript') },
  (t) => editLoop(t, 'assemblyscript', { breakIt: true }));

test('C: new plugin, bext build, bext dev; a save rebuilds and reloads once with the new code',
  { timeout: 300_000, skip: skipWithout('c') },
  (t) => editLoop(t, 'c'));

test('C: bext dev builds a missing .wasm before the plugins load', { timeout: 300_000, skip: skipWithout('c') }, async (t) => {
  const { dir } = scaffold('c');
  const dev = startDev(dir);
  t.after(() => dev.stop());
  const url = (await dev.ready) + '/';
  // The banner (stdout) can reach this test before the start-up log lines (stderr).
  await until('the build and the start in the log', () => msgs(dev).some((m) => /^hello started/.test(m)), 60_000, dev.stderr);
  const start = msgs(dev);
  assert.equal(count(start, /^plugin hello: plugin\.wasm does not exist yet: building/), 1, start.join('\n'));
  assert.ok(start.findIndex((m) => /built in/.test(m)) < start.findIndex((m) => /^hello started/.test(m)));
  await requestAndSee(dev, url, /^hello: request done: /, 0);
});

test('Rust: new plugin, bext build offline against the bundled SDK, config check, one hook call',
  { timeout: 900_000, skip: skipWithout('rust') },
  () => {
    const { dir } = scaffold('rust');
    // The tests' shared cargo target folder: the SDK and serde are usually built there already.
    buildAndCheck(dir, 840_000, { CARGO_TARGET_DIR });
    const r = bext(['plugin', 'run', 'hello', 'on_request_complete', '--input', '{"path":"/rust"}', '--json'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.outcome ?? out.result?.outcome, 'ok', r.stdout);
    assert.match(r.stdout, /hello: request done: \{\\"path\\":\\"\/rust\\"\}/);
  });
