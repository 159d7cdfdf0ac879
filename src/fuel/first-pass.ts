/**
 * A read of a function's body ahead of its rewrite, for one question: may it trap before it
 * writes `bext_fuel` (BodyRewriter.mayTrapBeforeWrite)? module.ts asks when a call to a threaded
 * function comes before that function's own rewrite (which would answer it). The answer needs only
 * the body's control-flow events (events.ts), not the segments, edits and frames the full walk
 * keeps for the rewrite, so this reads a body for its events alone, in one tight loop with the
 * position in a local, and records exactly the events the walk records: the analysis over them
 * then gives exactly the walk's answer.
 *
 * What it does not read itself (exception handling, tail calls, SIMD, and any byte the walk would
 * refuse) it leaves to the full walk by answering UNSURE; the walk then answers, or throws the
 * error it always threw for that body.
 */
import { V } from './events.js';
import { ByteList, IntList } from './int-list.js';

/** scan(): the full walk must answer (something this pass does not read, or bad input). */
export const UNSURE = -1;
/** scan(): an operator that can trap is reached on the straight line from the entry. */
export const TRAPS_FIRST = -2;

// Frame kinds of the scan (exception-handling frames never occur: those bodies are UNSURE).
const F_FUNC = 0, F_BLOCK = 1, F_LOOP = 2, F_IF = 3, F_ELSE = 4;

/** The events recorded by the last scan, for BodyRewriter.needsSaveAfterCalls. */
export interface EventLists {
  evKind: ByteList;
  evArg: IntList;
  evTable: IntList;
}

export class FirstPass {
  private readonly frames = new ByteList();
  private readonly loopIds = new IntList();
  /** Where the last slow LEB128 read ended (UNSURE when it was malformed). */
  private lebEnd = 0;
  /** Whether every operator so far falls through to the next without writing the global (see BodyRewriter.straight). */
  private straight = true;

  /**
   * Records the events of the body at `buf[start, end)` of a function with `params` params into
   * `ev` and returns its loop count; or TRAPS_FIRST (then the answer is yes, whatever follows),
   * or UNSURE.
   */
  scan(buf: Uint8Array, start: number, end: number, params: number, threadedFuncs: Uint8Array, ev: EventLists): number {
    const { evKind, evArg, evTable } = ev;
    const frames = this.frames;
    const loopIds = this.loopIds;
    evKind.n = 0;
    evArg.n = 0;
    evTable.n = 0;
    frames.n = 0;
    loopIds.n = 0;
    this.straight = true;
    let pos = start;
    // Locals, with the walk's checks.
    let groups = this.u32(buf, pos, end);
    if (groups < 0) return UNSURE;
    pos = this.lebEnd;
    let locals = params;
    for (; groups > 0; groups--) {
      const n = this.u32(buf, pos, end);
      if (n < 0) return UNSURE;
      pos = this.lebEnd;
      if (pos >= end) return UNSURE;
      const t = buf[pos++]!;
      if (!(t >= 0x7b && t <= 0x7f) && t !== 0x70 && t !== 0x6f) return UNSURE;
      locals += n;
      if (locals > 50000) return UNSURE;
    }
    frames.push(F_FUNC);
    let loopCount = 0;
    for (;;) {
      if (pos >= end) return UNSURE;
      const op = buf[pos++]!;
      // The event this operator records (-1: none), after its immediates are read.
      let kind = -1;
      let arg = 0;
      switch (op) {
        case 0x00: // unreachable
        case 0x0f: // return
          kind = V.SAVE;
          break;
        case 0x01: // nop
        case 0x1a: // drop
        case 0x1b: // select
          break;
        case 0x02: // block
        case 0x03: // loop
        case 0x04: {
          // if
          const b = buf[pos]!;
          if (pos >= end) return UNSURE;
          if (b < 0x40 || b === 0x40 || (b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f) pos++;
          else if (b & 0x80) {
            pos = this.skipLeb(buf, pos, end, 5);
            if (pos < 0) return UNSURE;
          } else return UNSURE;
          if (op === 0x02) {
            frames.push(F_BLOCK);
            kind = V.BLOCK;
          } else if (op === 0x03) {
            frames.push(F_LOOP);
            loopIds.push(loopCount);
            kind = V.LOOP;
            arg = loopCount++;
          } else {
            frames.push(F_IF);
            kind = V.IF;
          }
          break;
        }
        case 0x05: // else
          if (frames.top() !== F_IF) return UNSURE;
          frames.a[frames.n - 1] = F_ELSE;
          kind = V.ELSE;
          break;
        case 0x0b: {
          // end
          const f = frames.pop();
          if (f === F_FUNC) return pos === end ? loopCount : UNSURE;
          kind = V.END;
          arg = f === F_LOOP ? loopIds.pop() : -1;
          break;
        }
        case 0x0c: // br
        case 0x0d: {
          // br_if
          let d = buf[pos]!;
          if (d < 0x80 && pos < end) pos++;
          else {
            d = this.u32(buf, pos, end);
            if (d < 0) return UNSURE;
            pos = this.lebEnd;
          }
          if (d > frames.n - 1) return UNSURE;
          kind = op === 0x0c ? V.BR : V.BR_IF;
          arg = d;
          break;
        }
        case 0x0e: {
          // br_table: the event first, then its depths (as the walk records them)
          const n = this.u32(buf, pos, end);
          if (n < 0) return UNSURE;
          pos = this.lebEnd;
          this.straight = false;
          evKind.push(V.BR_TABLE);
          evArg.push(evTable.n);
          evTable.push(n + 1);
          for (let i = 0; i <= n; i++) {
            const d = this.u32(buf, pos, end);
            if (d < 0 || d > frames.n - 1) return UNSURE;
            pos = this.lebEnd;
            evTable.push(d);
          }
          break;
        }
        case 0x10: {
          // call
          let callee = buf[pos]!;
          if (callee < 0x80 && pos < end) pos++;
          else {
            callee = this.u32(buf, pos, end);
            if (callee < 0) return UNSURE;
            pos = this.lebEnd;
          }
          this.straight = false;
          evKind.push(V.SAVE);
          evArg.push(0);
          if (threadedFuncs[callee] === 1) {
            // The walk's argument is the after-call segment, which this pass does not number.
            kind = V.RETURNED;
          }
          break;
        }
        case 0x11: // call_indirect
          pos = this.skipU32(buf, pos, end);
          if (pos < 0) return UNSURE;
          pos = this.skipU32(buf, pos, end);
          if (pos < 0) return UNSURE;
          kind = V.SAVE;
          break;
        case 0x1c: {
          // select t*
          const n = this.u32(buf, pos, end);
          if (n < 0) return UNSURE;
          pos = this.lebEnd;
          if (pos + n > end) return UNSURE;
          pos += n;
          break;
        }
        case 0x20:
        case 0x21:
        case 0x22:
          if (buf[pos]! < 0x80 && pos < end) pos++;
          else {
            pos = this.skipU32(buf, pos, end);
            if (pos < 0) return UNSURE;
          }
          break;
        case 0x23:
        case 0x24:
        case 0x25:
        case 0x26:
          pos = this.skipU32(buf, pos, end);
          if (pos < 0) return UNSURE;
          kind = V.TRAP;
          break;
        case 0x3f:
        case 0x40: // memory.size / memory.grow: memory 0 only
          if (pos >= end || buf[pos] !== 0) return UNSURE;
          pos++;
          break;
        case 0x41: // i32.const
          pos = this.skipLeb(buf, pos, end, 5);
          if (pos < 0) return UNSURE;
          break;
        case 0x42: // i64.const
          pos = this.skipLeb(buf, pos, end, 10);
          if (pos < 0) return UNSURE;
          break;
        case 0x43:
          if (pos + 4 > end) return UNSURE;
          pos += 4;
          break;
        case 0x44:
          if (pos + 8 > end) return UNSURE;
          pos += 8;
          break;
        case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
        case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37:
        case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: case 0x3e: {
          // loads and stores; memarg: alignment (no memory index), offset
          const align = this.u32(buf, pos, end);
          if (align < 0 || align & 0x40) return UNSURE;
          pos = this.skipLeb(buf, this.lebEnd, end, 5);
          if (pos < 0) return UNSURE;
          kind = V.TRAP;
          break;
        }
        default:
          if (op >= 0x45 && op <= 0xc4) {
            // Division, remainder and float-to-int truncation can trap.
            if ((op >= 0x6d && op <= 0x70) || (op >= 0x7f && op <= 0x82) || (op >= 0xa8 && op <= 0xab) || (op >= 0xae && op <= 0xb1)) kind = V.TRAP;
            break;
          }
          // A switch of its own above the numeric operators, so the one above stays dense (a
          // jump table, see BodyRewriter.walk).
          switch (op) {
            case 0xd1: // ref.is_null
              break;
            case 0xd2: // ref.func
              if (buf[pos]! < 0x80 && pos < end) pos++;
              else {
                pos = this.skipU32(buf, pos, end);
                if (pos < 0) return UNSURE;
              }
              break;
            case 0xd0: {
              // ref.null
              if (pos >= end) return UNSURE;
              const t = buf[pos++]!;
              if (t !== 0x70 && t !== 0x6f) return UNSURE;
              break;
            }
            case 0xfc: {
              const sub = this.u32(buf, pos, end);
              if (sub < 0) return UNSURE;
              pos = this.lebEnd;
              // Immediates: memory.init, memory.copy, table.init, table.copy take two; data.drop,
              // elem.drop, table.size, memory.fill, table.grow, table.fill one; the saturating
              // truncations none.
              let imms = 0;
              if (sub === 8 || sub === 10 || sub === 12 || sub === 14) imms = 2;
              else if (sub === 9 || sub === 11 || sub === 13 || sub === 15 || sub === 16 || sub === 17) imms = 1;
              else if (sub > 7) return UNSURE;
              for (; imms > 0; imms--) {
                pos = this.skipU32(buf, pos, end);
                if (pos < 0) return UNSURE;
              }
              // Bulk operations can trap (table.grow returns -1 instead).
              if (sub === 8 || sub === 10 || sub === 11 || sub === 12 || sub === 14 || sub === 17) kind = V.TRAP;
              break;
            }
            default:
              // Exception handling, tail calls, SIMD, typed references, atomics, unknown opcodes.
              return UNSURE;
          }
      }
      if (kind < 0) continue;
      if (this.straight) {
        if (kind === V.TRAP) return TRAPS_FIRST;
        if (kind === V.SAVE || kind === V.BR || kind === V.ELSE) this.straight = false;
      }
      // Runs of trapping operators say no more than the first of them.
      if (kind === V.TRAP && evKind.n > 0 && evKind.a[evKind.n - 1] === V.TRAP) continue;
      evKind.push(kind);
      evArg.push(arg);
    }
  }

  /** Unsigned LEB128 up to 32 bits at `pos` (the end in lebEnd), or UNSURE when malformed. */
  private u32(buf: Uint8Array, pos: number, end: number): number {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= end) return UNSURE;
      const b = buf[pos++]!;
      if (shift === 28 && b > 0x0f) return UNSURE;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.lebEnd = pos;
        return result >>> 0;
      }
    }
  }

  /** The end of an unsigned LEB128 up to 32 bits at `pos`, or UNSURE (the walk reads these with Reader.u32). */
  private skipU32(buf: Uint8Array, pos: number, end: number): number {
    return this.u32(buf, pos, end) < 0 ? UNSURE : this.lebEnd;
  }

  /** The end of a LEB128 of at most `maxBytes` at `pos`, or UNSURE. */
  private skipLeb(buf: Uint8Array, pos: number, end: number, maxBytes: number): number {
    for (let i = 0; i < maxBytes; i++) {
      if (pos >= end) return UNSURE;
      if ((buf[pos++]! & 0x80) === 0) return pos;
    }
    return UNSURE;
  }
}
