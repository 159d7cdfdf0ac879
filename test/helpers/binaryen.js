// binaryen's command-line tools from the pinned `binaryen` npm package, run inside this process.
// Each bin is one emscripten program (~10 MB of JS with the wasm inlined): starting it as a child
// costs about a second per call, so the program is loaded once and its `main` is called per run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const BIN_DIR = path.join(path.dirname(require.resolve('binaryen/package.json')), 'bin');

/** Path of a binaryen bin (for running it as a child process, e.g. wasm-reduce's --command). */
export function binaryenBin(name) {
  return path.join(BIN_DIR, name);
}

const programs = new Map();

function load(name) {
  let ready = programs.get(name);
  if (ready) return ready;
  const file = binaryenBin(name);
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

/**
 * Runs a binaryen tool's main with `args` (absolute paths: the program's file system is the real
 * one). Resolves to its output; rejects with that output when it exits non-zero.
 */
export async function runBinaryen(name, args) {
  const { Module, output } = await load(name);
  output.length = 0;
  const savedExitCode = process.exitCode;
  let status;
  try {
    status = Module.callMain([...args]);
  } catch (err) {
    // exit(n) inside the program throws emscripten's ExitStatus after setting process.exitCode.
    status = typeof err?.status === 'number' ? err.status : 1;
    if (typeof err?.status !== 'number') output.push(String(err?.stack ?? err));
  } finally {
    process.exitCode = savedExitCode;
  }
  const text = output.join('\n');
  if (status) throw new Error(`${name} ${args.join(' ')} exited ${status}:\n${text}`);
  return text;
}
