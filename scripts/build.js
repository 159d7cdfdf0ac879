// Builds dist/: tsc (type-checks src/ and emits it module by module), the dashboard assets
// (scripts/copy-assets.js) and the CLI and worker bundles (scripts/bundle.js). `npm run build`,
// `prepare` (so `npm ci` leaves a built package) and `npm test` run it.
//
//   node scripts/build.js [--if-stale]
//   --if-stale  do nothing when dist/ was last built, completely, from exactly the inputs there are
//               now: `npm test` right after `npm ci` (whose `prepare` just built it) would otherwise
//               spend ~5 s of one core on tsc's incremental check and the bundles while the other
//               core waits for the tests to start.
//
// The inputs are the content of every file under src/, these scripts, tsconfig.json and
// package-lock.json (the bundles carry commander and pino from node_modules), and Node's version.
// Their digest is written to dist/.build-inputs only after every step succeeded, so a failed or
// interrupted build is never taken for a fresh one.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = path.join(root, 'dist', '.build-inputs');
const OUTPUTS = ['dist/cli/main.js', 'dist/bundle/main.cjs', 'dist/bundle/worker-entry.cjs', 'dist/plugins/worker-entry.cjs'];

function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function inputsDigest() {
  const files = [
    ...filesUnder(path.join(root, 'src')),
    ...filesUnder(path.join(root, 'scripts')),
    path.join(root, 'tsconfig.json'),
    path.join(root, 'package-lock.json'),
  ].filter(existsSync).sort();
  const hash = createHash('sha256').update(`node ${process.version}\n`);
  for (const file of files) hash.update(`${path.relative(root, file)}\0`).update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

const digest = inputsDigest();
if (process.argv.includes('--if-stale')) {
  const fresh = existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === digest
    && OUTPUTS.every((f) => existsSync(path.join(root, f)));
  if (fresh) {
    console.log('build: dist/ is up to date with src/');
    process.exit(0);
  }
}

rmSync(STAMP, { force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'copy-assets.js')], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle.js')], { cwd: root, stdio: 'inherit' });
} catch (err) {
  // The step printed its own errors (tsc's type errors, esbuild's messages).
  process.exit(typeof err.status === 'number' && err.status !== 0 ? err.status : 1);
}
writeFileSync(STAMP, `${digest}\n`);
