// The process that runs binaryen's tools for test/helpers/binaryen.js: started once per test file
// with V8's --liftoff-only, it loads each tool's program once and runs its `main` per request.
//
// Why a process of its own: each bin is one emscripten program (~10 MB of JS with the wasm
// inlined). Under V8's default tiering the hot parts of that wasm are compiled again by TurboFan,
// which cost more CPU than the fuzz modules took to generate: 1.0 s of CPU for 10 modules, against
// 0.14 s with Liftoff alone, and 0.45 s against 1.0 s to load the program. The flag is for this
// process only: the modules under test keep running in the test file's process as Node runs them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const BIN_DIR = path.join(path.dirname(require.resolve('binaryen/package.json')), 'bin');

const programs = new Map();

function load(name) {
  let ready = programs.get(name);
  if (ready) return ready;
  const file = path.join(BIN_DIR, name);
  const source = readFileSync(file, 'utf8').replace(/^#!.*\n/, '');
  ready = new Promise((resolve, reject) => {
    const output = [];
    const Module = {
      noInitialRun: true,
      print: (line) => output.push(line),
      printErr: (line) => output.push(line),
      onRuntimeInitialized: () => resolve({ Module, output }),
      onAbort: (what) => reject(new Error(`${name} aborted: ${what}`)),
    };
    // `var Module` inside the program picks up this parameter instead of a fresh object; the
    // appended line hands out the program's own callMain, which emscripten keeps private.

    const program = new Function('Module', 'require', '__filename', '__dirname', 'module', `${source}\n;Module.callMain = callMain;`);
    program(Module, require, file, BIN_DIR, { exports: {} });
  });
  programs.set(name, ready);
  return ready;
}

/** Runs one tool's main; { status, output }. */
async function run(name, args) {
  let loaded;
  try {
    loaded = await load(name);
  } catch (err) {
    return { status: 1, output: String(err?.stack ?? err) };
  }
  const { Module, output } = loaded;
  output.length = 0;
  let status;
  try {
    status = Module.callMain([...args]);
  } catch (err) {
    // exit(n) inside the program throws emscripten's ExitStatus after setting process.exitCode.
    status = typeof err?.status === 'number' ? err.status : 1;
    if (typeof err?.status !== 'number') output.push(String(err?.stack ?? err));
  } finally {
    process.exitCode = 0;
  }
  return { status, output: output.join('\n') };
}

// One request at a time, in order (the programs keep global state between runs).
let queue = Promise.resolve();
process.on('message', ({ id, name, args }) => {
  queue = queue.then(async () => process.send({ id, ...(await run(name, args)) }));
});
// The test file went away (it ends with --test-force-exit): so does this process.
process.on('disconnect', () => process.exit(0));
