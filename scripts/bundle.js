// Bundles the CLI for start-up speed: `bin/bext` loads dist/bundle/main.js (and the chunk of the
// one command it runs) instead of ~60 ES modules one by one, and plugin workers start from
// dist/bundle/worker-entry.js. Node's module machinery (resolve, fstat, load, link per file) was
// most of a short command's start-up CPU. Part of `npm run build`, `prepare` and `test`; tsc still
// type-checks and emits dist/ module by module (the library entry points and the tests use those).
//
// Layout contract: the worker entry sits beside the module that starts workers (src/plugins/load.ts
// resolves './worker-entry.js' from its own URL), in dist/plugins/ and in dist/bundle/ alike. Every
// other path into the package goes through src/package.ts, which finds the package root from
// wherever it runs.
//
// Left out of the bundle: everything bext loads on demand with createRequire (better-sqlite3 and its
// native addon, undici, pino and its worker-thread transports, prom-client, hdr-histogram-js,
// node:wasi): they stay in node_modules and still load only when a command needs them.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'worker-entry': 'src/plugins/worker-entry.ts' },
  outdir,
  bundle: true,
  // Each command's module (imported lazily by main.ts) becomes its own chunk, so a command loads
  // main.js, its chunk and the chunks it shares with others: a few files, not one with everything.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Maps back to src/*.ts for `node --enable-source-maps` (bin/bext turns them on only for
  // BEXT_SOURCE_MAPS=1: reading the map costs every start).
  sourcemap: 'linked',
  sourcesContent: false,
  packages: 'bundle',
  // The CommonJS packages bundled in (commander, @iarna/toml, picomatch…) require Node's built-ins;
  // an ES module has no `require` of its own.
  banner: { js: "import { createRequire as __bextCreateRequire } from 'node:module'; const require = __bextCreateRequire(import.meta.url);" },
  external: ['better-sqlite3', 'undici', 'pino', 'prom-client', 'hdr-histogram-js', 'binaryen'],
  logLevel: 'warning',
  metafile: true,
});
if (process.argv.includes('--sizes')) {
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.map')) console.log(`${String(out.bytes).padStart(9)}  ${path.relative(root, file)}`);
  }
}
