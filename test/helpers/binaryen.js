// binaryen's command-line tools from the pinned `binaryen` npm package. Each bin is one emscripten
// program (~10 MB of JS with the wasm inlined): starting it as a child per call costs about a
// second, so one helper process per test file (test/helpers/binaryen-tool.js, under V8's
// --liftoff-only; why there: see that file) loads each program once and runs its `main` per call.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownChild } from './cleanup.js';

const require = createRequire(import.meta.url);
const BIN_DIR = path.join(path.dirname(require.resolve('binaryen/package.json')), 'bin');
const TOOL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'binaryen-tool.js');

/** Path of a binaryen bin (for running it as a child process, e.g. wasm-reduce's --command). */
export function binaryenBin(name) {
  return path.join(BIN_DIR, name);
}

let tool = null;
let nextId = 0;
const pending = new Map();

function helper() {
  if (tool) return tool;
  tool = ownChild(fork(TOOL, [], { execArgv: ['--liftoff-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  tool.on('message', ({ id, status, output }) => {
    const call = pending.get(id);
    pending.delete(id);
    if (!pending.size) idle(true);
    call?.(status, output);
  });
  tool.on('exit', (code, signal) => {
    tool = null;
    for (const call of pending.values()) call(1, `the binaryen helper process exited (${signal ?? code})`);
    pending.clear();
  });
  return tool;
}

/** Between calls the helper does not keep the test file alive. */
function idle(yes) {
  if (!tool) return;
  if (yes) {
    tool.unref();
    tool.channel?.unref();
  } else {
    tool.ref();
    tool.channel?.ref();
  }
}

/**
 * Runs a binaryen tool's main with `args` (absolute paths: the program's file system is the real
 * one). Resolves to its output; rejects with that output when it exits non-zero.
 */
export function runBinaryen(name, args) {
  const child = helper();
  const id = nextId++;
  idle(false);
  return new Promise((resolve, reject) => {
    pending.set(id, (status, text) => {
      if (status) reject(new Error(`${name} ${args.join(' ')} exited ${status}:\n${text}`));
      else resolve(text);
    });
    child.send({ id, name, args: [...args] });
  });
}
