// Bundles the CLI for start-up speed: `bin/bext` runs dist/bundle/main.cjs, one script with every
// command in it, from V8's code cache (bin/bext keeps one per command in the user's cache folder),
// and plugin workers start from dist/bundle/worker-entry.cjs. Node's module machinery (resolve,
// fstat, load, link per file) was most of a short command's start-up CPU, and compiling the code
// of the command that runs most of the rest. Part of `npm run build`, `prepare` and `test`; tsc
// still type-checks and emits dist/ module by module (the library entry points and the tests use
// those).
//
// Why CommonJS: Node 20 has no compile cache for ES modules (module.enableCompileCache is Node
// 22.1+) and vm.SourceTextModule needs a flag; a script run through vm.Script takes V8's
// cachedData. esbuild cannot split CommonJS output, so every command is in the one file, but each
// command's modules are wrapped in a function that runs on its first import() (as chunks were
// loaded on demand before), and with a code cache V8 does not parse the parts a command never
// runs. The file is one function expression, `(function (exports, require, module, __filename,
// __dirname, __bextBundleUrl) {…})`, which bin/bext calls; `import.meta.url` becomes
// __bextBundleUrl, the file's own URL, so paths resolve from dist/bundle/ as they did.
//
// Layout contract: the worker entry sits beside the module that starts workers (src/plugins/load.ts
// resolves './worker-entry.cjs' from its own URL), in dist/plugins/ and in dist/bundle/ alike; both
// are the one-file worker bundle below. Every other path into the package goes through
// src/package.ts, which finds the package root from wherever it runs.
//
// Left out of the bundle: what bext loads on demand with createRequire (better-sqlite3 and its
// native addon, undici, prom-client, hdr-histogram-js; binaryen is a devDependency only): they
// stay in node_modules and still load only when a command needs them. The exception is pino in
// the CLI bundle (bundledPino below); the worker bundle loads it from node_modules too.
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

// commander requires node:child_process when loaded (it spawns only for executable subcommands,
// which bext has none of); loading it pulls in net, dgram and streams, ~8 ms of every command. In
// the bundle commander gets a stand-in that loads the real module on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes(`${path.sep}commander${path.sep}`) ? { path: 'child_process', namespace: 'bext-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'bext-lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

// pino takes ~50 ms of CPU to load from node_modules (a dozen CommonJS files, each resolved and
// compiled on its own) and most commands that run a plugin or a server log. src/log.ts loads it on
// first use with createRequire, which a bundler cannot follow; in the CLI bundle that one call
// becomes a plain require(), which esbuild bundles and still evaluates only when first called
// (~13 ms). Its worker-thread transports (thread-stream) are not used: bext writes through
// pino.destination. The worker bundle keeps loading pino from node_modules (a worker rarely logs).
const bundledPino = {
  name: 'bundled-pino',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]log\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const call = "load('pino')";
      if (!source.includes(call)) throw new Error(`scripts/bundle.js: ${args.path} no longer has ${call}; update bundledPino`);
      return { contents: source.replaceAll(call, "require('pino')"), loader: 'ts' };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Maps back to src/*.ts, for `node --enable-source-maps bin/bext` (not on by default: reading
  // the maps costs every start ~30 ms of CPU) and for src/cli/source-stack.ts.
  sourcemap: 'linked',
  sourcesContent: false,
  packages: 'bundle',
  logLevel: 'warning',
  metafile: true,
};
const results = await Promise.all([
  build({
    ...common,
    entryPoints: { main: 'src/cli/main.ts' },
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    define: { 'import.meta.url': '__bextBundleUrl' },
    // The source map counts the banner's line: frames map to src/ as before.
    banner: { js: '(function (exports, require, module, __filename, __dirname, __bextBundleUrl) {' },
    footer: { js: '})' },
    external: ['better-sqlite3', 'undici', 'prom-client', 'hdr-histogram-js', 'binaryen'],
    plugins: [lazyChildProcessForCommander, bundledPino],
  }),
  // A worker starts from one file: each chunk is one more module to resolve and link, in every
  // worker (measured: a split worker entry made `bext plugin run` ~25% slower). The same file
  // sits beside tsc's dist/plugins/worker-entry.js, where the library (dist/plugins/load.js, the
  // in-process servers of the tests) starts its workers: ~85 ms of CPU per worker instead of
  // ~140 ms for its ~40 modules one by one. CommonJS, not an ES module: a worker whose entry is an
  // ES module sets up Node's ES module loader in its own isolate, ~0.3 MB more per plugin
  // (bench/plugin-memory.bench.js) for nothing the worker uses.
  ...[outdir, path.join(root, 'dist', 'plugins')].map((dir) => build({
    ...common,
    outdir: dir,
    entryPoints: { 'worker-entry': 'src/plugins/worker-entry.ts' },
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    splitting: false,
    define: { 'import.meta.url': '__bextWorkerUrl' },
    // The ES modules it is built from are strict code; the directive must open the file.
    banner: { js: "'use strict'; const __bextWorkerUrl = require('node:url').pathToFileURL(__filename).href;" },
    external: ['better-sqlite3', 'undici', 'pino', 'prom-client', 'hdr-histogram-js', 'binaryen'],
    plugins: [lazyChildProcessForCommander],
  })),
]);
// bin/bext reads the CLI script as Latin-1, which is one byte per character to decode and a
// one-byte string for V8 (UTF-8 decoding the whole file was ~4 ms of every start). esbuild writes
// ASCII (charset 'ascii' escapes every other character in strings, regexps and names) except in
// the comments it keeps; there each other character becomes '?' per UTF-16 unit, so the source
// map's columns stay right.
const cli = path.join(outdir, 'main.cjs');
writeFileSync(cli, readFileSync(cli, 'utf8').replace(/[\u0080-\uffff]/g, '?'));

if (process.argv.includes('--sizes')) {
  for (const [file, out] of results.flatMap((r) => Object.entries(r.metafile.outputs))) {
    if (!file.endsWith('.map')) console.log(`${String(out.bytes).padStart(9)}  ${path.relative(root, file)}`);
  }
}
