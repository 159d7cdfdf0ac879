// Traps as users see them in `bext plugin run`: a C plugin built with -g (DWARF 4, and 5) and a
// Rust debug build trap at a known source line; the frames name the demangled function, the
// offset in the user's own module (what wasm-objdump and llvm-dwarfdump use), file:line:col, and
// the source line. Rust's panic machinery is folded under the panic message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { rustTarget, rustTools } from '../../plugins-example/build.js';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { skipWithout } from '../helpers/toolchains.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/debug');
const noC = skipWithout('c');
const noRust = skipWithout('rust');

/** 1-based line of the comment `marker` in a fixture. */
function lineOf(file, marker) {
  return readFileSync(path.join(FIXTURES, file), 'utf8').split('\n').findIndex((l) => l.includes(`// ${marker}`)) + 1;
}

function build(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
}

function runTrap(dir, wasm, env = {}) {
  const text = bext(['plugin', 'run', wasm, 'on_reload'], { cwd: dir, env });
  assert.equal(text.code, 1, text.stderr);
  const json = bext(['plugin', 'run', wasm, 'on_reload', '--json'], { cwd: dir, env });
  assert.equal(json.code, 1, json.stderr);
  return { text: text.stdout, result: JSON.parse(json.stdout) };
}

for (const dwarf of [4, 5]) {
  test(`C built with -g (DWARF ${dwarf}): frames show file:line:col and the source line`, { skip: noC }, (t) => {
    const dir = tempDir('bext-trap-c-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(path.join(FIXTURES, 'trap.c'), path.join(dir, 'trap.c'));
    build('clang', ['--target=wasm32-wasi', '-O0', `-gdwarf-${dwarf}`, '-mexec-model=reactor', '-o', 'trap.wasm', 'trap.c'], dir);
    const { text, result } = runTrap(dir, 'trap.wasm');
    assert.equal(result.trapKind, 'memory access out of bounds');
    const trapLine = lineOf('trap.c', 'TRAP');
    const callLine = lineOf('trap.c', 'CALL');
    assert.match(result.stack[0], new RegExp(`^lookup_entry @ 0x[0-9a-f]+ \\(trap\\.c:${trapLine}:\\d+\\)$`));
    assert.match(result.stack[1], new RegExp(`^on_reload @ 0x[0-9a-f]+ \\(trap\\.c:${callLine}:\\d+\\)$`));
    assert.equal(result.frames[0].source, 'if (i > 3) return *far + table[0]; // TRAP');
    // The offset is the user's: wasm-objdump of trap.wasm shows the trapping load there.
    const offset = result.frames[0].offset;
    const wasm = readFileSync(path.join(dir, 'trap.wasm'));
    assert.equal(wasm[offset], 0x28, `an i32.load at 0x${offset.toString(16)} in the user's module`);
    assert.match(text, new RegExp(`at lookup_entry @ 0x${offset.toString(16)} \\(trap\\.c:${trapLine}:\\d+\\)\\n {7}if \\(i > 3\\) return \\*far \\+ table\\[0\\]; // TRAP\\n`));
  });
}

test('Rust debug build: demangled frames at the panicking line, the panic message first, std folded', { skip: noRust }, (t) => {
  const dir = tempDir('bext-trap-rs-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(path.join(FIXTURES, 'trap.rs'), path.join(dir, 'trap.rs'));
  const { rustc } = rustTools();
  build(rustc, ['--target', rustTarget(), '--crate-type', 'cdylib', '-g', '-C', 'opt-level=0', '-o', 'trap.wasm', 'trap.rs'], dir);
  const trapLine = lineOf('trap.rs', 'TRAP');
  const callLine = lineOf('trap.rs', 'CALL');

  const { text, result } = runTrap(dir, 'trap.wasm', { BEXT_PLUGIN_LOG: 'warn' });
  assert.equal(result.trapKind, 'unreachable');
  assert.match(result.panic, new RegExp(`^index out of bounds: the len is 3 but the index is 7 at trap\\.rs:${trapLine}:\\d+$`));
  assert.match(result.stack[0], /^… \d+ frames in std::panicking.* \(BEXT_PLUGIN_LOG=trace shows them\)$/);
  assert.match(result.stack[1], new RegExp(`^trap::helper_index @ 0x[0-9a-f]+ \\(trap\\.rs:${trapLine}:\\d+\\)$`));
  assert.match(result.stack[2], new RegExp(`^on_reload @ 0x[0-9a-f]+ \\(trap\\.rs:${callLine}:\\d+\\)$`));
  const helper = result.frames.find((f) => f.name === 'trap::helper_index');
  assert.match(helper.mangled, /^_ZN4trap12helper_index17h[0-9a-f]{16}E$/);
  assert.equal(helper.source, 'values[i] // TRAP');
  // The panic comes before the trap and the stack.
  assert.ok(text.indexOf('panic ') < text.indexOf('trap ') && text.indexOf('trap ') < text.indexOf('guest stack'), text);

  const verbose = runTrap(dir, 'trap.wasm', { BEXT_PLUGIN_LOG: 'trace' }).result;
  assert.ok(verbose.stack.some((l) => l.startsWith('core::panicking::panic_bounds_check @ 0x')), verbose.stack.join('\n'));
  assert.ok(!verbose.stack.some((l) => l.startsWith('…')));
});
