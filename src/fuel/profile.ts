/**
 * The profiling build's host side of the protocol (docs/fuel.md, "Profiling builds").
 *
 * A profiling build is the normal rewrite with fuel threading off (every function reads the
 * counter from `bext_fuel` on entry and writes it back before calls and on exit, so the global is
 * exact at both ends of every call) plus, at each function's entry and exit,
 * `if (bext_profile_on) call_indirect bext_profile_hooks[slot](function index, f64(bext_fuel))`.
 * The reports go through an appended table instead of new imports so that no function index moves
 * (imports come first in the index space): names, element segments and trap frames stay as they are.
 *
 * A table only holds wasm functions, so the host wraps its JS callbacks in the tiny module built
 * here (two imports re-exported) and stores its exports in the table.
 */
import { Writer } from '../wasm/index.js';
import { PROFILE_FLAG, PROFILE_TABLE } from './contract.js';

/** What a profiling build calls; `func` is the guest's function index, `fuel` the counter. */
export interface ProfileHookFunctions {
  enter(func: number, fuel: number): void;
  exit(func: number, fuel: number): void;
}

function section(out: Writer, id: number, body: Writer): void {
  out.byte(id);
  out.u32(body.len);
  out.bytes(body.result());
}

/** `(module (import "p" "enter" (func (param i32 f64))) (import "p" "exit" …) (export both))` */
export function profileHookModule(): Uint8Array {
  const out = new Writer(96);
  out.bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  const types = new Writer(16);
  types.bytes(Uint8Array.of(1, 0x60, 2, 0x7f, 0x7c, 0));
  section(out, 1, types);
  const imports = new Writer(32);
  imports.u32(2);
  for (const name of ['enter', 'exit']) {
    imports.name('p');
    imports.name(name);
    imports.byte(0x00);
    imports.u32(0);
  }
  section(out, 2, imports);
  const exports = new Writer(32);
  exports.u32(2);
  ['enter', 'exit'].forEach((name, i) => {
    exports.name(name);
    exports.byte(0x00);
    exports.u32(i);
  });
  section(out, 7, exports);
  return out.result().slice();
}

/**
 * Connects a profiling build's instance to `hooks`: fills its table and leaves the reports off
 * (the caller turns them on around the calls it profiles with the returned switch).
 */
export function attachProfileHooks(exports: WebAssembly.Exports, hooks: ProfileHookFunctions): (on: boolean) => void {
  const table = exports[PROFILE_TABLE];
  const flag = exports[PROFILE_FLAG];
  if (!(table instanceof WebAssembly.Table) || !(flag instanceof WebAssembly.Global)) {
    throw new Error(`internal: the module is not a profiling build (no ${PROFILE_TABLE} / ${PROFILE_FLAG} export)`);
  }
  const wrapper = new WebAssembly.Instance(new WebAssembly.Module(profileHookModule()), {
    p: { enter: hooks.enter, exit: hooks.exit },
  });
  table.set(0, wrapper.exports.enter);
  table.set(1, wrapper.exports.exit);
  flag.value = 0;
  return (on: boolean) => {
    flag.value = on ? 1 : 0;
  };
}
