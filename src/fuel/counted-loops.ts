/**
 * Counted loops: straight-line loops whose trip count is known when they are entered.
 *
 * wasmtime checks fuel at every loop header, and in a tight loop that check and the charge cost
 * as much as the loop's own work. For a loop of the shape
 *
 *     loop                       ;; no other control flow, no calls, no bulk operations
 *       ...
 *       (local.tee $i (i.add (local.get $i) STEP))  BOUND  CMP
 *       br_if 0
 *     end
 *
 * the number of iterations T follows from `$i`, STEP and BOUND on entry, and every iteration
 * costs the same C. If the fuel on entry covers the checks of all T headers (fuel > (T-1)·C),
 * none of them can fail, so bext runs an unmetered copy of the loop and charges T·C once after
 * it. Otherwise, or when the trip count cannot be proven (wrap-around, a step that may be 0 or
 * the wrong sign), the metered loop runs as usual and fails at the same check as in wasmtime.
 *
 * Recognised: CMP `ne` with a constant STEP; `lt_u`/`lt_s` with a positive STEP (constant, or
 * a local the loop does not write); `gt_u`/`gt_s` with a negative constant STEP. BOUND is a
 * constant or a local the loop does not write; i32 and i64.
 */
import type { IntList } from './int-list.js';
import { Reader, type Writer } from '../wasm/index.js';

export type Operand = { local: number; value?: undefined } | { local?: undefined; value: bigint };

export interface CountedLoop {
  /** i64 (else i32). */
  wide: boolean;
  kind: 'ne' | 'lt' | 'gt';
  signed: boolean;
  /** The induction local. */
  i: number;
  step: Operand;
  bound: Operand;
}

const CMP: Record<number, [wide: boolean, kind: CountedLoop['kind'], signed: boolean]> = {
  0x47: [false, 'ne', false],
  0x48: [false, 'lt', true],
  0x49: [false, 'lt', false],
  0x4a: [false, 'gt', true],
  0x4b: [false, 'gt', false],
  0x52: [true, 'ne', false],
  0x53: [true, 'lt', true],
  0x54: [true, 'lt', false],
  0x55: [true, 'gt', true],
  0x56: [true, 'gt', false],
};

/** Reads a signed LEB128 of up to 64 bits as a bigint. */
function readS64(buf: Uint8Array, pos: number, end: number): bigint {
  let result = 0n;
  let shift = 0n;
  for (let n = 0; n < 10 && pos < end; n++) {
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if ((b & 0x80) === 0) {
      if (shift < 64n && b & 0x40) result -= 1n << shift;
      return BigInt.asIntN(64, result);
    }
  }
  return 0n;
}

function operand(buf: Uint8Array, at: number, end: number, wide: boolean): Operand | null {
  const op = buf[at]!;
  if (op === 0x20) return { local: new Reader(buf, at + 1, end).u32() };
  if (op === 0x41 && !wide) return { value: BigInt(new Reader(buf, at + 1, end).s32()) };
  if (op === 0x42 && wide) return { value: readS64(buf, at + 1, end) };
  return null;
}

/**
 * Matches the back edge of a straight-line loop. `ops` holds the start of every operator in the
 * body, the final `br_if 0` last; `writes` holds (local, position) for every local.set/tee.
 */
export function matchCountedLoop(buf: Uint8Array, end: number, opList: IntList, writeList: IntList): CountedLoop | null {
  const ops = opList.a;
  const writes = writeList.a;
  const k = opList.n;
  if (k < 7) return null;
  const cmp = CMP[buf[ops[k - 2]!]!];
  if (!cmp) return null;
  const [wide, kind, signed] = cmp;
  const teeAt = ops[k - 4]!;
  if (buf[teeAt] !== 0x22 || buf[ops[k - 5]!] !== (wide ? 0x7c : 0x6a)) return null;
  const i = new Reader(buf, teeAt + 1, end).u32();
  const bound = operand(buf, ops[k - 3]!, end, wide);
  const a = operand(buf, ops[k - 7]!, end, wide);
  const b = operand(buf, ops[k - 6]!, end, wide);
  if (!bound || !a || !b) return null;
  const step = a.local === i ? b : b.local === i ? a : null;
  if (!step || step.local === i || bound.local === i) return null;
  // The induction local changes only at the back edge; the step and bound never change.
  for (let w = 0; w < writeList.n; w += 2) {
    const local = writes[w]!;
    if (local === i && writes[w + 1] !== teeAt) return null;
    if (local === step.local || local === bound.local) return null;
  }
  if (kind === 'ne' && (step.value === undefined || step.value === 0n)) return null;
  if (kind === 'lt' && step.value !== undefined && step.value <= 0n) return null;
  if (kind === 'gt' && (step.value === undefined || step.value >= 0n)) return null;
  return { wide, kind, signed, i, step, bound };
}

const I64_CONST = 0x42;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;

/**
 * Emits code that leaves an i32 on the stack: 1 when the loop is entered with a provable trip
 * count T (stored in `tLocal`) and `fuel > (T-1)·cost`, so no header check inside can fail.
 * `local` maps a guest local index to its index in the rewritten function.
 */
export function emitTripCountGuard(w: Writer, loop: CountedLoop, local: (i: number) => number, fuelLocal: number, tLocal: number, cost: number): void {
  const { wide, kind, signed } = loop;
  const c64 = (v: bigint): void => {
    w.byte(I64_CONST);
    w.s64(BigInt.asIntN(64, v));
  };
  const get = (l: number): void => {
    w.byte(LOCAL_GET);
    w.u32(local(l));
  };
  // An operand as an i64: i32 values widened to match the comparison's signedness.
  const push = (o: Operand): void => {
    if (o.value !== undefined) {
      c64(wide ? o.value : signed ? BigInt.asIntN(32, o.value) : BigInt.asUintN(32, o.value));
      return;
    }
    get(o.local);
    if (!wide) w.byte(signed ? 0xac : 0xad);
  };
  const I: Operand = { local: loop.i };
  const op = (b: number): void => w.byte(b);
  const setT = (): void => {
    w.byte(LOCAL_SET);
    w.u32(tLocal);
  };
  const rawT = (): void => {
    w.byte(LOCAL_GET);
    w.u32(tLocal);
  };
  // Divides the i64 on the stack by a positive constant (a shift for powers of two).
  const divBy = (d: bigint): void => {
    if ((d & (d - 1n)) === 0n) {
      let sh = 0n;
      while (1n << sh !== d) sh++;
      if (sh === 0n) return;
      c64(sh);
      op(0x88); // i64.shr_u
    } else {
      c64(d);
      op(0x80); // i64.div_u
    }
  };

  if (kind === 'ne') {
    // D = (bound - i) mod 2^w for an upward step, (i - bound) for a downward one; T = D / |step|
    // when |step| divides D exactly and D is not 0, else the loop wraps around.
    const s = loop.step.value!;
    const mag = s < 0n ? -s : s;
    const [x, y] = s > 0n ? [loop.bound, I] : [I, loop.bound];
    for (const o of [x, y]) {
      if (o.value !== undefined) {
        if (wide) c64(o.value);
        else {
          w.byte(0x41);
          w.s64(BigInt.asIntN(32, o.value));
        }
      } else get(o.local);
    }
    if (wide) op(0x7d); // i64.sub
    else {
      op(0x6b); // i32.sub
      op(0xad); // i64.extend_i32_u
    }
    setT();
    rawT();
    op(0x50); // i64.eqz
    op(0x45); // i32.eqz
    rawT();
    if ((mag & (mag - 1n)) === 0n) {
      c64(mag - 1n);
      op(0x83); // i64.and
    } else {
      c64(mag);
      op(0x82); // i64.rem_u
    }
    op(0x50);
    op(0x71); // i32.and
    rawT();
    divBy(mag);
    setT();
  } else {
    // lt: T = bound > i ? ceil((bound - i) / step) : 1, with no wrap-around while counting.
    // gt: the mirror image with |step|.
    const stepIsConst = loop.step.value !== undefined;
    const mag = stepIsConst ? (loop.step.value! < 0n ? -loop.step.value! : loop.step.value!) : 0n;
    const pushStep = (): void => (stepIsConst ? c64(mag) : push(loop.step));
    const [hi, lo] = kind === 'lt' ? [loop.bound, I] : [I, loop.bound];
    // Guard: no value can wrap.
    if (wide) {
      // i, bound (and the step) all in [0, 2^62): sums stay below 2^63 either way.
      push(I);
      push(loop.bound);
      op(0x84); // i64.or
      if (!stepIsConst) {
        pushStep();
        op(0x84);
      } else if (mag >= 1n << 62n) {
        c64(-1n);
        op(0x84);
      }
      c64(62n);
      op(0x88);
      op(0x50); // eqz -> 1 when all fit
      if (kind === 'gt') {
        // i - |step| and bound - |step| stay >= 0.
        for (const o of [I, loop.bound]) {
          push(o);
          c64(mag);
          op(0x59); // i64.ge_s
          op(0x71);
        }
      }
    } else {
      const limit = kind === 'lt' ? (signed ? (1n << 31n) - 1n : (1n << 32n) - 1n) : signed ? -(1n << 31n) : 0n;
      w.byte(0x41);
      w.byte(0x01);
      for (const o of [I, loop.bound]) {
        push(o);
        pushStep();
        op(kind === 'lt' ? 0x7c : 0x7d); // i64.add / i64.sub
        c64(limit);
        op(kind === 'lt' ? 0x57 : 0x59); // i64.le_s / i64.ge_s
        op(0x71);
      }
    }
    if (!stepIsConst) {
      // A step from a local must be positive (lt only).
      pushStep();
      c64(0n);
      op(0x55); // i64.gt_s
      op(0x71);
    }
    // T = hi > lo ? (hi - lo + step - 1) / step : 1
    push(hi);
    push(lo);
    op(0x7d);
    pushStep();
    op(0x7c);
    c64(1n);
    op(0x7d);
    if (stepIsConst) divBy(mag);
    else {
      // Divide by max(step, 1): the guard above rejects step <= 0, and the division must not trap.
      pushStep();
      c64(1n);
      pushStep();
      c64(0n);
      op(0x55);
      op(0x1b); // select
      op(0x80);
    }
    c64(1n);
    push(hi);
    push(lo);
    op(0x55); // i64.gt_s
    op(0x1b); // select
    setT();
  }
  // T < 2^32 keeps (T-1)·cost inside i64; i32 loops cannot exceed it.
  if (wide) {
    rawT();
    c64(1n << 32n);
    op(0x54); // i64.lt_u
    op(0x71);
  }
  // Enough fuel for every header check: fuel > (T-1)·cost.
  w.byte(LOCAL_GET);
  w.u32(fuelLocal);
  rawT();
  c64(1n);
  op(0x7d);
  c64(BigInt(cost));
  op(0x7e); // i64.mul
  op(0x55); // i64.gt_s
  op(0x71);
}
