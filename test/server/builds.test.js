// Build on save under `bext dev`, with a stand-in compiler (a node script) so the sequence is
// fast and needs no toolchain: the "source" src/tag.txt names a prebuilt recorder.wat variant,
// which the build writes to plugin.wasm the way compilers do (remove, write part, pause, rest).
// While a file named `hold` sits in the plugin folder, the build waits before writing: a test can
// keep a build running for exactly as long as it needs.
// The real toolchains run the same loop in test/examples/new-plugin.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixtureWasm, makeProject, startDev, writeConfig } from './helpers.js';

const COMPILER = `
const fs = require('node:fs');
const tag = fs.readFileSync('src/tag.txt', 'utf8').trim();
const pause = Number(process.env.FAKE_BUILD_PAUSE_MS || 100);
while (fs.existsSync('hold')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
if (tag === 'broken') {
  console.log('compiling src/tag.txt');
  console.error('src/tag.txt:1:1: error: "broken" is not a tag');
  process.exit(2);
}
const bytes = fs.readFileSync('variants/' + tag + '.wasm');
fs.rmSync('plugin.wasm', { force: true });
fs.writeFileSync('plugin.wasm', bytes.subarray(0, 8));
setTimeout(() => fs.appendFileSync('plugin.wasm', bytes.subarray(8)), pause);
`;

/** A plugin folder plugins/NAME with the stand-in compiler and variants v1..v4; returns its config entry. */
function fakePlugin(dir, name) {
  const p = path.join(dir, 'plugins', name);
  mkdirSync(path.join(p, 'src'), { recursive: true });
  mkdirSync(path.join(p, 'variants'));
  for (const tag of ['v1', 'v2', 'v3', 'v4']) writeFileSync(path.join(p, 'variants', `${tag}.wasm`), fixtureWasm('recorder.wat', tag));
  writeFileSync(path.join(p, 'compile.js'), COMPILER);
  writeFileSync(path.join(p, 'src', 'tag.txt'), 'v1\n');
  return `
[plugins.${name}]
path = "./plugins/${name}/plugin.wasm"
[plugins.${name}.build]
command = ["node", "compile.js"]
watch = ["src/**/*.txt"]
cwd = "./plugins/${name}"
`;
}

const msgs = (dev, from = 0) => dev.logs().slice(from).map((l) => l.msg ?? '');
const count = (list, re) => list.filter((m) => re.test(m)).length;
/** Quiet time after everything expected has shown, before "no second build or reload" is concluded. */
const settle = () => new Promise((r) => setTimeout(r, 1_500));

async function info(dev, name) {
  return (await (await fetch(`${dev.url}__bext/plugins`)).json()).find((p) => p.name === name);
}

test('a missing .wasm is built at start; each save is one build and one reload; a failed build keeps the old version', { timeout: 120_000 }, async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  writeConfig(dir, `[server]\nroot = "./public"\n${fakePlugin(dir, 'fake')}`);
  const tagFile = path.join(dir, 'plugins', 'fake', 'src', 'tag.txt');
  const dev = await startDev(dir, { timeoutMs: 60_000 });
  t.after(() => dev.stop('SIGKILL'));

  const building = /^plugin fake: plugin\.wasm does not exist yet: building \(node compile\.js\)$/;
  // The banner (stdout) and the log (stderr) are two pipes: either can reach this test first.
  await dev.waitFor(() => count(msgs(dev), building) > 0, 30_000, 'the start-up build in the log');
  await dev.waitFor(() => dev.guest('fake').includes('v1 start {}'), 30_000, 'v1 start');
  assert.equal(count(msgs(dev), building), 1, msgs(dev).join('\n'));

  for (const tag of ['v2', 'v3']) {
    const from = dev.logs().length;
    writeFileSync(tagFile, `${tag}\n`);
    await dev.waitFor(() => dev.guest('fake').includes(`${tag} start {}`), 30_000, `${tag} start`);
    // Everything this save should cause, then a quiet spell in which nothing more may come.
    await dev.waitFor(() => count(msgs(dev, from), /^plugin fake reloaded$/) > 0, 30_000, `${tag} reloaded`);
    await settle();
    const after = msgs(dev, from);
    assert.equal(count(after, /^plugin fake: src\/tag\.txt changed: building/), 1, after.join('\n'));
    assert.equal(count(after, /^plugin fake: built in /), 1, after.join('\n'));
    assert.equal(count(after, /^plugin fake reloaded$/), 1, after.join('\n'));
    assert.equal(count(after, / start \{\}$/), 1, 'on_server_start once: one instance loaded per build');
  }

  // A failed build: compiler output in the log, the plugin listed stale, the old version serving.
  const broken = dev.logs().length;
  writeFileSync(tagFile, 'broken\n');
  await dev.waitFor(async () => (await info(dev, 'fake')).state === 'stale', 30_000, 'stale after the failed build');
  const failed = await info(dev, 'fake');
  assert.match(failed.error, /^the build failed; the running version keeps serving: exit code 2\n/);
  assert.match(failed.error, /src\/tag\.txt:1:1: error: "broken" is not a tag/);
  // The log reaches this test through bext's stdout, which can trail the HTTP answer above.
  const output = () => dev.logs().slice(broken).filter((l) => l.plugin === 'fake' && l.source === 'build').map((l) => l.msg);
  await dev.waitFor(() => output().length >= 2, 30_000, 'the compiler output in the log');
  assert.deepEqual(output(), ['compiling src/tag.txt', 'src/tag.txt:1:1: error: "broken" is not a tag']);
  await fetch(dev.url);
  await dev.waitFor(() => msgs(dev, broken).some((m) => m.startsWith('v3 event ')), 20_000, 'the old version handling an event');

  // Fixed: loaded again, with the new code.
  writeFileSync(tagFile, 'v4\n');
  await dev.waitFor(() => dev.guest('fake').includes('v4 start {}'), 30_000, 'v4 start');
  const fixed = await info(dev, 'fake');
  assert.equal(fixed.state, 'loaded');
  assert.equal(fixed.error, undefined);
});

test('saves during a build get one more build after it; a plugin added to the config is built before it loads', { timeout: 120_000 }, async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  const config = writeConfig(dir, `[server]\nroot = "./public"\n${fakePlugin(dir, 'slow')}`);
  const tagFile = path.join(dir, 'plugins', 'slow', 'src', 'tag.txt');
  const hold = path.join(dir, 'plugins', 'slow', 'hold');
  // BEXT_LOG=debug: bext says when it notices a save during a build, so the build is held until then.
  const dev = await startDev(dir, { timeoutMs: 60_000, env: { BEXT_LOG: 'debug' } });
  t.after(() => dev.stop('SIGKILL'));
  await dev.waitFor(() => dev.guest('slow').includes('v1 start {}'), 30_000, 'v1 start');

  const from = dev.logs().length;
  writeFileSync(hold, '');
  writeFileSync(tagFile, 'v2\n');
  await dev.waitFor(() => msgs(dev, from).some((m) => /tag\.txt changed: building/.test(m)), 30_000, 'the build starting');
  writeFileSync(tagFile, 'v3\n');
  const noticed = () => msgs(dev, from).some((m) => /^plugin slow: src\/tag\.txt changed during the build; one more build follows it$/.test(m));
  // The OS file watcher has been seen to drop one event on a loaded machine: save once more (a
  // different size, same tag) rather than wait for an event that will not come. Either way bext
  // must notice the save during the build and build exactly once more.
  if (!(await dev.waitFor(noticed, 5_000, 'the save noticed during the build').catch(() => false))) {
    console.log('# the save during the build was not reported within 5 s; saving it again');
    writeFileSync(tagFile, 'v3\n\n');
  }
  await dev.waitFor(noticed, 30_000, 'the save noticed during the build');
  unlinkSync(hold);
  await dev.waitFor(() => count(msgs(dev, from), /^plugin slow reloaded$/) === 2, 30_000, 'the second reload');
  await settle();
  const after = msgs(dev, from);
  assert.equal(dev.guest('slow').filter((m) => / start \{\}$/.test(m)).at(-1), 'v3 start {}', 'the last save is what runs');
  assert.equal(count(after, /^plugin slow: .*: building \(/), 2, after.join('\n'));
  assert.equal(count(after, /^plugin slow: sources changed during the build: building/), 1, after.join('\n'));
  assert.equal(count(after, /^plugin slow reloaded$/), 2, after.join('\n'));

  const added = dev.logs().length;
  appendFileSync(config, fakePlugin(dir, 'later'));
  await dev.waitFor(() => msgs(dev, added).some((m) => /^config applied: added later/.test(m)), 30_000, 'the added plugin');
  assert.ok(dev.guest('later').includes('v1 start {}'));
  const lines = msgs(dev, added);
  assert.ok(lines.findIndex((m) => /^plugin later: plugin\.wasm does not exist yet: building/.test(m)) < lines.findIndex((m) => /^config applied: added later/.test(m)), lines.join('\n'));
  assert.equal((await info(dev, 'later')).state, 'loaded');
});
