// The committed example .wasm files load and implement the hooks they should, and rebuilding
// every example from source (what `npm run build:examples` does) gives modules that do too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildExamples, PLUGINS } from '../../plugins-example/build.js';
import { skipWithout } from '../helpers/toolchains.js';
import { bext } from '../helpers/cli.js';
import { CARGO_TARGET_DIR, EXPECTED_HOOKS, pluginFile, show } from './lib.js';
import { tempDir } from '../helpers/cleanup.js';

function inspect(file) {
  const r = bext(['plugin', 'inspect', file, '--json']);
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout);
}

// The committed modules do not change during the run: each is inspected once, by the first test
// that needs it, and the rebuild tests compare against that. In this process, with the function
// `bext plugin inspect --json` prints the report of (inspectPluginFile); the rebuilt modules go
// through the command itself.
const committedInfo = new Map();
async function inspectCommitted(name) {
  if (!committedInfo.has(name)) {
    const { inspectPluginFile } = await import('../../dist/plugins/engine.js');
    committedInfo.set(name, JSON.parse(JSON.stringify(await inspectPluginFile(pluginFile(name)))));
  }
  return committedInfo.get(name);
}

function bextImports(info) {
  return info.imports.filter((i) => i.module === 'bext').map((i) => `${i.name} ${i.signature}`).sort();
}

test('every example in build.js has a committed plugin.wasm with the expected hooks and no ABI problems', async () => {
  assert.deepEqual(PLUGINS.map((p) => p.name).sort(), Object.keys(EXPECTED_HOOKS).sort());
  for (const name of Object.keys(EXPECTED_HOOKS)) {
    const info = await inspectCommitted(name);
    assert.deepEqual(info.problems, [], `${name}: ${JSON.stringify(info.problems)}`);
    assert.deepEqual(info.hooks.map((h) => h.hook).sort(), EXPECTED_HOOKS[name], name);
    assert.ok(info.hooks.every((h) => h.returns === 'i64'), `${name} hooks return i64 (packed error messages)`);
    assert.equal(info.allocator, 'bext_alloc', name);
    assert.ok(info.exports.some((e) => e.name === '_initialize'), `${name} exports _initialize`);
  }
});

test('the demo config validates and names every example plugin', () => {
  const config = path.join(path.dirname(pluginFile('greedy')), '..', '..', 'bext.config.toml');
  const r = bext(['config', 'check', '--json', '-c', config]);
  assert.equal(r.code, 0, show(r));
  const resolved = JSON.parse(r.stdout);
  const plugins = resolved.plugins ?? resolved.config?.plugins;
  assert.deepEqual(plugins.map((p) => p.name).sort(), Object.keys(EXPECTED_HOOKS).sort());
});

// One test per toolchain, so a missing native toolchain skips only the examples that need it.
for (const toolchain of [...new Set(PLUGINS.map((p) => p.toolchain))]) {
  const names = PLUGINS.filter((p) => p.toolchain === toolchain).map((p) => p.name);
  test(`npm run build:examples rebuilds the ${toolchain} examples (${names.join(', ')}) from source into loadable modules`, { skip: skipWithout(toolchain) }, async () => {
    await rebuildAndCheck(names);
  });
}

async function rebuildAndCheck(names) {
  const out = tempDir('bext-build-examples-');
  const savedTarget = process.env.CARGO_TARGET_DIR;
  process.env.CARGO_TARGET_DIR = CARGO_TARGET_DIR;
  try {
    const results = buildExamples({ names, outDir: out });
    for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
    for (const name of names) {
      const built = path.join(out, `${name}.wasm`);
      const fresh = inspect(built);
      const committed = await inspectCommitted(name);
      assert.deepEqual(fresh.problems, [], name);
      assert.deepEqual(fresh.hooks, committed.hooks, `${name}: rebuilt hooks differ from the committed plugin.wasm`);
      assert.deepEqual(bextImports(fresh), bextImports(committed), `${name}: rebuilt imports differ from the committed plugin.wasm`);
      assert.ok(readFileSync(built).length > 1000);
    }
    // Every rebuilt module loads and runs its start hook (outside any project, so config comes from
    // --input; run in `out`, so its .bext/ state goes there and not into the repository).
    for (const name of names) {
      const input = name === 'my-analytics' ? { endpoint: 'http://127.0.0.1:4000/ingest', batch_size: 2 } : {};
      const run = bext(['plugin', 'run', path.join(out, `${name}.wasm`), 'on_server_start', '--input', JSON.stringify(input), '--json'], { cwd: out });
      assert.equal(run.code, 0, `${name}: ${show(run)}`);
      assert.equal(JSON.parse(run.stdout).outcome, 'ok', name);
    }
    if (names.includes('greedy')) {
      const greedy = bext(['plugin', 'run', path.join(out, 'greedy.wasm'), 'on_request_complete', '--input', '{"path":"/"}', '--json'], { cwd: out });
      assert.equal(JSON.parse(greedy.stdout).outcome, 'ok', show(greedy));
    }
  } finally {
    if (savedTarget === undefined) delete process.env.CARGO_TARGET_DIR;
    else process.env.CARGO_TARGET_DIR = savedTarget;
    rmSync(out, { recursive: true, force: true });
  }
}
