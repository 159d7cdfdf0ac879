// The CLI runs from the esbuild bundle (dist/bundle/, scripts/bundle.js): paths into the package
// resolve from there as from dist/, a command loads a few files, and an internal error's stack
// trace still names the src/*.ts lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bext, ROOT } from '../helpers/cli.js';

const BUNDLE = path.join(ROOT, 'dist', 'bundle');
const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

test('bin/bext runs the bundle: --version prints package.json version', () => {
  assert.match(readFileSync(path.join(ROOT, 'bin', 'bext'), 'utf8'), /dist\/bundle\/main\.js/);
  const r = bext(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
});

test('paths into the package start at its root, wherever the code runs from', async () => {
  const { packageRoot, packageVersion } = await import('../../dist/package.js');
  assert.equal(packageRoot(), ROOT);
  assert.equal(packageVersion(), version);
  const { DASHBOARD_DIR } = await import('../../dist/server/dashboard-assets.js');
  assert.equal(fileURLToPath(DASHBOARD_DIR), path.join(ROOT, 'dist', 'server', 'dashboard') + path.sep);
  assert.ok(readFileSync(new URL('index.html', DASHBOARD_DIR)).length > 0);
});

test('the plugin worker entry is bundled beside the CLI, as one file', () => {
  const worker = readFileSync(path.join(BUNDLE, 'worker-entry.js'), 'utf8');
  assert.doesNotMatch(worker, /^import .* from ["']\.\/chunk-/m, 'no chunks to load in each worker');
});

test("an internal error's stack trace names the src/*.ts lines, not the bundle's", async () => {
  const { main } = await import('../../dist/bundle/main.js');
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = (s) => ((stderr += s), true);
  const exitCode = process.exitCode;
  try {
    await main(null); // commander refuses a non-array argv: an error bext does not expect
  } finally {
    process.stderr.write = write;
    process.exitCode = exitCode;
  }
  assert.match(stderr, /^bext: internal error: /);
  assert.match(stderr, /src[/\\]cli[/\\]main\.ts:\d+:\d+/, stderr);
  assert.doesNotMatch(stderr, /dist[/\\]bundle/, stderr);
});
