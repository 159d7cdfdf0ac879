// AssemblyScript fixtures compiled the way a test would by hand (`node asc.js …` in the fixture's
// folder), with two differences that change nothing in the output:
//  - asc runs under V8's --liftoff-only: asc is mostly binaryen compiled to wasm, and TurboFan
//    recompiling that wasm's hot parts took more CPU than the compile itself (a small plugin at
//    -O3: 3.8 s of CPU instead of 8.3 s); --enable-source-maps is passed too, so that asc.js does
//    not start a second Node process to add it;
//  - the output is kept in node_modules/.cache (ignored by git, cleared by `npm ci`) under the
//    SHA-256 of everything that shapes it: asc's and binaryen's versions, the arguments, and the
//    content of every file in the folders the sources come from. An unchanged fixture is not
//    compiled again on the next run.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from './cli.js';

const require = createRequire(path.join(ROOT, 'package.json'));
const ASC_PACKAGE = path.dirname(require.resolve('assemblyscript/package.json'));
const ASC = path.join(ASC_PACKAGE, 'bin', 'asc.js');
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'bext-test-asc');

function versions() {
  const asc = JSON.parse(readFileSync(path.join(ASC_PACKAGE, 'package.json'), 'utf8'));
  const binaryen = createRequire(path.join(ASC_PACKAGE, 'package.json')).resolve('binaryen/package.json');
  return `assemblyscript ${asc.version}, binaryen ${JSON.parse(readFileSync(binaryen, 'utf8')).version}`;
}

function hashTree(hash, dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') hashTree(hash, p);
    } else if (e.isFile()) {
      hash.update(`\0${path.relative(dir, p)}\0`).update(readFileSync(p));
    }
  }
}

/**
 * Compiles with asc in `cwd` (`args` as on asc's command line, without `-o`) into `out`.
 * `sources` are the folders whose files the compile reads (the fixture, the SDK it imports).
 * Returns { status, output } (output: asc's stderr and stdout when it ran).
 */
export function compileAssemblyScript({ cwd, args, sources, out }) {
  const hash = createHash('sha256').update(`${versions()}\0${JSON.stringify(args)}\0${path.resolve(cwd)}`);
  for (const dir of sources) {
    hash.update(`\0dir ${path.resolve(dir)}`);
    hashTree(hash, dir);
  }
  const cached = path.join(CACHE, `${hash.digest('hex')}.wasm`);
  if (existsSync(cached)) {
    copyFileSync(cached, out);
    return { status: 0, output: '' };
  }
  const r = spawnSync(process.execPath, ['--liftoff-only', '--enable-source-maps', ASC, ...args, '-o', out], { cwd, encoding: 'utf8' });
  if (r.status === 0) {
    try {
      mkdirSync(CACHE, { recursive: true });
      // Copied under a private name, then renamed: a concurrent reader never sees half a file.
      const partial = `${cached}.${process.pid}`;
      copyFileSync(out, partial);
      renameSync(partial, cached);
    } catch {
      // no cache (read-only install): the next run compiles again
    }
  }
  return { status: r.status, output: `${r.stderr ?? ''}${r.stdout ?? ''}${r.error ? r.error.message : ''}` };
}
