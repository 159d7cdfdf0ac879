// The CLI runs from the esbuild bundle (dist/bundle/, scripts/bundle.js): paths into the package
// resolve from there as from dist/, an internal error's stack trace still names the src/*.ts
// lines, and bin/bext runs it from a V8 code cache that it uses only when the cache is this
// user's, undamaged and for this bundle, and that never makes a command fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, linkSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

const BUNDLE = path.join(ROOT, 'dist', 'bundle');
const version = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

/** The CLI script, run the way bin/bext runs it (without the code cache): its exports. */
function loadCli() {
  const file = path.join(BUNDLE, 'main.cjs');
  const script = new vm.Script(readFileSync(file, 'latin1'), { filename: pathToFileURL(file).href });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, BUNDLE, pathToFileURL(file).href);
  return module.exports;
}

test('bin/bext runs the bundle: --version prints package.json version', () => {
  assert.match(readFileSync(path.join(ROOT, 'bin', 'bext'), 'utf8'), /dist\/bundle\/main\.cjs/);
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
  const worker = readFileSync(path.join(BUNDLE, 'worker-entry.cjs'), 'utf8');
  assert.doesNotMatch(worker, /require\(["']\.\/chunk-/, 'no chunks to load in each worker');
});

test("an internal error's stack trace names the src/*.ts lines, not the bundle's", async () => {
  const { main } = loadCli();
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

test('the CLI script is ASCII (bin/bext decodes it as Latin-1)', () => {
  const bytes = readFileSync(path.join(BUNDLE, 'main.cjs'));
  assert.equal(bytes.findIndex((b) => b > 0x7f), -1);
});

/** Runs `bext ...args` with its code cache under `home`; returns the result and the cache's status line. */
function cached(home, args, env = {}) {
  const r = bext(args, { env: { XDG_CACHE_HOME: home, BEXT_CODE_CACHE: 'debug', ...env } });
  const m = /^bext: code cache (\w+): (.*)$/m.exec(r.stderr);
  return { ...r, status: m?.[1], file: m?.[2] };
}

test('code cache: written once per command, then used; its folders and file are private', () => {
  const home = tempDir('bext-code-cache-');
  const first = cached(home, ['--version']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.trim(), version);
  assert.equal(first.status, 'none');
  assert.equal(path.basename(first.file), 'bext.v8');
  assert.ok(first.file.startsWith(path.join(home, 'bext', 'code-cache') + path.sep), first.file);
  assert.equal(statSync(first.file).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(first.file)).mode & 0o777, 0o700);
  const second = cached(home, ['--version']);
  assert.equal(second.status, 'used', second.stderr);
  assert.equal(second.stdout.trim(), version);
  // Another command has its own cache (the functions it runs).
  const help = cached(home, ['plugin', 'run', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.equal(path.basename(help.file), 'plugin-run.v8');
  assert.equal(help.status, 'none');
  assert.deepEqual(readdirSync(path.dirname(first.file)).sort(), ['bext.v8', 'plugin-run.v8']);
});

test('code cache: a damaged, foreign or writable-by-others cache is not used; the command still runs, and a good cache replaces it', () => {
  const home = tempDir('bext-code-cache-');
  const { file } = cached(home, ['--version']);
  const good = readFileSync(file);
  const check = (expected, why) => {
    const r = cached(home, ['--version']);
    assert.equal(r.code, 0, `${why}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), version, why);
    assert.equal(r.status, expected, why);
    assert.equal(cached(home, ['--version']).status, 'used', `${why}: rewritten`);
  };
  // One byte of the V8 data changed: its SHA-256 no longer matches the header.
  const flipped = Buffer.from(good);
  flipped[flipped.length - 100] ^= 0xff;
  writeFileSync(file, flipped);
  check('damaged', 'flipped byte');
  // Cut short.
  writeFileSync(file, good.subarray(0, good.length >> 1));
  check('damaged', 'truncated');
  // Made for another bundle (its header names another bundle's hash).
  writeFileSync(file, Buffer.concat([Buffer.from(good.toString('latin1').replace(/\n[0-9a-f]{64}\n/, `\n${'0'.repeat(64)}\n`), 'latin1')]));
  check('damaged', 'another bundle');
  // Writable by others, or a hard link (someone else's name for it).
  writeFileSync(file, good);
  chmodSync(file, 0o666);
  check('unsafe', 'mode 666');
  linkSync(file, `${file}.link`);
  check('unsafe', 'hard link');
  assert.equal(statSync(file).nlink, 1);
  // Its folder writable by others.
  chmodSync(path.dirname(file), 0o777);
  const r = cached(home, ['--version']);
  assert.equal(r.status, 'unsafe');
  assert.equal(r.stdout.trim(), version);
  chmodSync(path.dirname(file), 0o700);
});

test('code cache: a read-only cache folder only means no cache', () => {
  const home = tempDir('bext-code-cache-');
  chmodSync(home, 0o500);
  try {
    const r = cached(home, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
    assert.equal(r.stderr.replace(/^bext: code cache .*\n/m, ''), '');
    // (root writes into read-only folders all the same)
    if (process.getuid?.() !== 0) assert.equal(cached(home, ['--version']).status, 'none');
  } finally {
    chmodSync(home, 0o700);
  }
});

test('code cache: a cache folder that is not a folder only means no cache', () => {
  const home = tempDir('bext-code-cache-');
  writeFileSync(path.join(home, 'bext'), 'not a folder');
  for (let i = 0; i < 2; i++) {
    const r = cached(home, ['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
    assert.equal(r.status, 'none');
    assert.equal(r.stderr.replace(/^bext: code cache .*\n/m, ''), '');
  }
  assert.equal(existsSync(path.join(home, 'bext', 'code-cache')), false);
});
