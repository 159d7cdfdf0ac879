/**
 * The instruction sequences a rewritten body is made of (charges, checks, write-backs, profile
 * reports) and the copying of the input's own instructions, recorded in the offset map as they
 * are written. One BodyWriter serves every body of a module: begin() sets what the body's
 * sequences refer to (its fuel local, the global, bext_out_of_fuel), so writing a body allocates
 * nothing (a module may have hundreds of thousands of them).
 */
import { Writer, u32Size } from '../wasm/index.js';
import type { BodyContext, ProfileHooks } from './body.js';
import type { OffsetMapBuilder } from './offset-map.js';

export class BodyWriter {
  /** Where the body goes, and where in it the body starts (the offset map's offsets are relative to that). */
  w: Writer = new Writer(16);
  private base = 0;
  /** The input module. */
  private buf: Uint8Array = new Uint8Array(0);
  /** Where copy() reads: the input's byte i is the writer's own byte `i + copyDelta` (see copyFrom). */
  private copyDelta = 0;
  private map: OffsetMapBuilder | undefined;
  /** The fuel local, the `bext_fuel` global and `bext_out_of_fuel`. */
  private L = 0;
  private G = 0;
  private OOF = 0;
  /** How far declared locals move (past the fuel param, and in a twin its extra param too). */
  private localShift = 1;
  private threaded = false;
  private params = 0;
  private funcIndex = 0;
  private profile: ProfileHooks | undefined;
  /** 1 when the body sits in a block of its own inside the landing block (see BodyRewriter.emit). */
  private depthExtra = 0;
  /** guestLocal as a function value, made once (counted-loops.ts takes it as a callback). */
  readonly guestLocalFn = (l: number): number => this.guestLocal(l);

  /** Starts a body of `ctx`'s function, whose fuel is in local `fuelLocal`, at `base` in `w`. */
  begin(w: Writer, base: number, buf: Uint8Array, map: OffsetMapBuilder | undefined, ctx: BodyContext, fuelLocal: number): void {
    this.w = w;
    this.base = base;
    this.buf = buf;
    this.copyDelta = 0;
    this.map = map;
    this.L = fuelLocal;
    this.G = ctx.fuelGlobal;
    this.OOF = ctx.outOfFuelFunc;
    this.localShift = ctx.selfCalls?.twin ? 2 : 1;
    this.threaded = ctx.threadedFuncs[ctx.funcIndex] === 1;
    this.params = ctx.params;
    this.funcIndex = ctx.funcIndex;
    this.profile = ctx.profile;
  }

  /** Whether the body is wrapped in a block (which checkToLanding's branches leave too). */
  setWrapped(wrapped: boolean): void {
    this.depthExtra = wrapped ? 1 : 0;
  }

  /** A guest local's index in the rewritten body. */
  guestLocal(l: number): number {
    return this.threaded && l >= this.params ? l + this.localShift : l;
  }

  /**
   * Copies come from the writer's own bytes: the input's byte i is at `i + copyDelta` in it (a
   * copy of the body, its local accesses renumbered, see BodyRewriter.rewrite).
   */
  copyFrom(copyDelta: number): void {
    this.copyDelta = copyDelta;
  }

  /** Input bytes [from, to) copied (renumbered: see copyFrom). */
  copy(from: number, to: number): void {
    this.map?.copied(this.w.len - this.base, from);
    this.w.again(from + this.copyDelta, to + this.copyDelta);
  }

  /** What is written next is bext's, standing before the input instruction at `at`. */
  insertedBefore(at: number): void {
    this.map?.inserted(this.w.len - this.base, at);
  }

  /**
   * Writes the local.get/set/tee at `at` with its index moved past the fuel param (and a twin's
   * extra param); returns the end of its immediate. When the new index takes as many bytes as the
   * old one (nearly always), the instruction maps onto the input byte for byte, like copied
   * code: the map then needs no entries for it (threaded functions renumber most of their
   * instructions).
   */
  shiftedLocalOp(at: number, immEnd: number): number {
    const { buf, w, localShift } = this;
    const b = buf[at + 1]!;
    if (immEnd === at + 2 && b + localShift <= 0x7f) {
      // The common case: a one-byte index that stays one byte.
      this.map?.copied(w.len - this.base, at);
      w.byte(buf[at]!);
      w.byte(b + localShift);
      return immEnd;
    }
    let index = 0;
    let shift = 0;
    for (let p = at + 1; p < immEnd; p++, shift += 7) index |= (buf[p]! & 0x7f) << shift;
    const shifted = (index >>> 0) + localShift;
    if (u32Size(shifted) === immEnd - at - 1) this.map?.copied(w.len - this.base, at);
    else this.insertedBefore(at);
    w.byte(buf[at]!);
    w.u32(shifted);
    return immEnd;
  }

  /** After a `local.tee L` the caller emitted: trap when L + offset <= 0. */
  check(offset: number, padded = false): void {
    const { w, L } = this;
    w.byte(0x42);
    w.sNum(-offset);
    w.byte(0x57); // i64.le_s
    w.byte(0x04);
    w.byte(0x40);
    // Hand over the fuel left at the check itself (before this segment's charge), so the value
    // stored does not depend on how charges were placed.
    w.byte(0x20);
    w.u32(L);
    if (offset !== 0) {
      w.byte(0x42);
      w.sNum(offset);
      w.byte(0x7c); // i64.add
    }
    if (padded) {
      // A twin's extra param (always 0), added on the out-of-fuel path of its entry check and of
      // the checks in its loops that call: that keeps it live from the entry through those
      // loops, calls included, which is what gives the twin one more spill slot than the
      // original. An unused param gets none, and one used at the entry alone can share its slot
      // with a later value (fib's twin then had the original's 64 bytes). See twins.ts.
      w.byte(0x20);
      w.u32(L + 1);
      w.byte(0x7c); // i64.add
    }
    w.byte(0x10);
    w.u32(this.OOF);
    // The out-of-fuel path never comes back; saying so keeps V8 from merging it into the
    // hot path (which would force reloading the memory base and other state after the call).
    w.byte(0x00);
    w.byte(0x0b);
  }

  /** Writes the fuel local back to the global. */
  save(): void {
    const w = this.w;
    w.byte(0x20);
    w.u32(this.L);
    w.byte(0x24);
    w.u32(this.G);
  }

  /**
   * Profiling build: `if (flag) hooks[slot](function index, f64(bext_fuel))`, where the global
   * holds the exact counter (functions are not threaded in this build, see profile.ts). None of
   * these operators is charged: they are not the guest's.
   */
  report(slot: 0 | 1): void {
    const prof = this.profile;
    if (!prof) return;
    const w = this.w;
    w.byte(0x23);
    w.u32(prof.flagGlobal);
    w.byte(0x04);
    w.byte(0x40);
    w.byte(0x41);
    w.sNum(this.funcIndex);
    w.byte(0x23);
    w.u32(this.G);
    w.byte(0xb9); // f64.convert_i64_s
    w.byte(0x41);
    w.sNum(slot);
    w.byte(0x11);
    w.u32(prof.typeIndex);
    w.u32(prof.table);
    w.byte(0x0b);
  }

  /**
   * With an `if`'s i32 condition on the stack: `condition != 0 && !(fuel <= -offset)`, the
   * negation of check(offset)'s test (see E.CHECK_FUSED).
   */
  fuseCheck(offset: number): void {
    const { w, L } = this;
    w.byte(0x41);
    w.byte(0x00);
    w.byte(0x47); // i32.ne
    w.byte(0x20);
    w.u32(L);
    w.byte(0x42);
    w.sNum(-offset);
    w.byte(0x55); // i64.gt_s
    w.byte(0x71); // i32.and
  }

  /**
   * Leaves for the landing when L <= 0 (L is the fuel left at the check point itself), from where
   * `frames` frames are open inside the body (the function's own not counted).
   */
  checkToLanding(frames: number): void {
    const w = this.w;
    w.byte(0x20);
    w.u32(this.L);
    w.byte(0x42);
    w.byte(0x00);
    w.byte(0x57); // i64.le_s
    w.byte(0x0d); // br_if
    w.u32(frames + this.depthExtra);
  }

  /** Subtracts c from the i64 on the stack (nothing when c is 0). */
  minus(c: number): void {
    if (c === 0) return;
    const w = this.w;
    w.byte(0x42);
    w.sNum(c);
    w.byte(0x7d);
  }

  /** Charges c to the fuel local (nothing when c is 0). */
  charge(c: number): void {
    if (c === 0) return;
    const w = this.w;
    w.byte(0x20);
    w.u32(this.L);
    w.byte(0x42);
    w.sNum(c);
    w.byte(0x7d);
    w.byte(0x21);
    w.u32(this.L);
  }
}
