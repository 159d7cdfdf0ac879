/**
 * Twins of self-recursive functions (docs/fuel.md, "Deep recursion and the stack's cache-line
 * offset"). V8 gives a threaded function one more spill slot than the plain one (its fuel param),
 * and when that makes its frame a multiple of 64 bytes, every level of a deep recursion sits at the
 * same offset in its cache line; at one of the four offsets a process's stack can start at, that is
 * about 1.5× slower on some processors. A directly self-recursive threaded function can therefore
 * get a twin: its body again, with one more i64 param that is always 0, appended after every other
 * function. The original's calls to itself go to the twin and the twin's go back to the original,
 * so consecutive levels alternate between two frames 8 bytes apart and cannot all share an offset.
 *
 * Only with the `twins` instrument option, off by default: on processors whose return prediction
 * fails once a recursion alternating between two functions outgrows the return stack (AMD Zen 5),
 * alternation costs ~2x on any recursion deeper than ~40 levels, far more than it saves.
 *
 * Nothing else refers to a twin: exports, tables, element segments, the start function and every
 * other caller keep the original, and no index moves. A call costs the same from either copy, and
 * the extra argument is bext's, so it is not charged. The offset map maps the twin's code onto the
 * original's input offsets and the name section gives it the original's name, so traps and
 * profiles read as if there were one function.
 */
import { Reader, Writer } from '../wasm/index.js';

/**
 * Bodies above this size (in the input) get no twin. Twinning doubles a function's code, which
 * costs instrumentation time, compile time and memory in proportion to the body, while what it
 * buys shrinks: the cache-line effect only shows when a call costs a few instructions beside the
 * frame it pushes (ackermann's `ack` is 40 bytes), not in a function big enough to do real work
 * per level.
 */
export const MAX_TWIN_BODY_BYTES = 2048;

/** V8 refuses modules with more functions than this (its kV8MaxWasmFunctions). */
export const V8_MAX_FUNCTIONS = 1_000_000;

/** A threaded type `(params i64) -> (results i64)` with the twin's extra param: `(params i64 i64) -> (results i64)`. */
export function twinType(threaded: Uint8Array): Uint8Array {
  const r = new Reader(threaded, 1);
  const np = r.u32();
  const w = new Writer(threaded.length + 8);
  w.byte(0x60);
  w.u32(np + 1);
  w.bytes(threaded.subarray(r.pos, r.pos + np));
  w.byte(0x7e);
  w.bytes(threaded.subarray(r.pos + np));
  return w.result().slice();
}

/** A function that got a twin: where its body is in the input, and the twin's index. */
export interface Twin {
  /** Function index of the original. */
  func: number;
  /** Index among the defined functions (for its type and params). */
  defined: number;
  /** The body in the input (after its size). */
  start: number;
  end: number;
  /** Function index of the twin. */
  index: number;
}
