/**
 * Rewrites one function body so it meters fuel with wasmtime's rules.
 *
 * The body is cut into straight-line segments at the points where wasmtime flushes its fuel
 * counter (if, else, end of a join point, br, br_if, br_table, call, call_indirect, return,
 * unreachable, loop). Each segment's whole cost is charged once, at its start, into a function
 * local (in a threaded function, its fuel param); the local is written back to the `bext_fuel`
 * global where wasmtime writes its counter back and a trap or the host could read it (before
 * calls and `unreachable`, at an exported function's exit, after a threaded call when a trap
 * may follow) and reloaded after calls to non-threaded functions. Threaded functions return
 * their fuel as an extra result. Checks happen at function entry, at loop headers and after variable-size bulk
 * operations; since the segment that follows the check point is already charged, each check
 * compares against minus that segment's cost, which is exactly wasmtime's "remaining <= 0". A loop
 * that makes no calls has its header's check made before the loop and on each edge back to it
 * instead (E.LOOP, E.BACK_EDGE): the same check, where it costs less.
 *
 * Tail calls and exceptions: `return_call`, `return_call_indirect`, `throw` and `rethrow` end a
 * segment and write the local back first (a threaded tail call hands the fuel to its callee
 * instead). A `catch`/`catch_all` is entered by unwinding, after the thrower wrote the global, so
 * its segment reloads the local from the global, like the segment after a call; no charge moves
 * across a `try`.
 */
import { Reader, WasmFormatError, type Writer } from '../wasm/index.js';
import { FREE_OPCODES, FUNCTION_ENTRY_COST, SMALL_BULK_OP_COST } from './costs.js';
import { emitTripCountGuard, matchCountedLoop, type CountedLoop } from './counted-loops.js';
import { BodyWriter } from './body-writer.js';
import { ByteList, IntList } from './int-list.js';
import { FirstPass, TRAPS_FIRST, UNSURE, type EventLists } from './first-pass.js';
import { V } from './events.js';
import type { OffsetMapBuilder } from './offset-map.js';

export interface BodyContext {
  /** Index of the `bext_fuel` global. */
  fuelGlobal: number;
  /** Index of `bext_out_of_fuel(i64)`. */
  outOfFuelFunc: number;
  /** Number of params of this function. */
  params: number;
  /** Encoded block type for a block producing this function's results (1+ bytes). */
  resultBlockType: Uint8Array;
  /** Function index, for messages. */
  funcIndex: number;
  /**
   * By function index: 1 for a "threaded" function, which receives the fuel as an extra last i64
   * param and returns it as an extra last result (see module.ts: only functions no host or table
   * can reach get this form). Calls to them pass and take back the fuel that way.
   */
  threadedFuncs: Uint8Array;
  /**
   * By function index: 0 when calls to this threaded function need not write `bext_fuel` first
   * (see mayTrapBeforeWrite), 1 otherwise, WRITE_UNKNOWN while not known yet (then
   * resolveWriteBeforeCall finds it).
   */
  writeBeforeCall: Uint8Array;
  /** Finds, records and returns writeBeforeCall for a threaded function (set when some are WRITE_UNKNOWN). */
  resolveWriteBeforeCall?: (func: number) => number;
  /**
   * Set in a profiling build (see profile.ts): every function entry and exit reports the fuel
   * counter to the host through `call_indirect` on the profile table while the profile flag is on.
   */
  profile?: ProfileHooks;
  /**
   * Set for a threaded, directly self-recursive function that has a twin (see twins.ts): its
   * `call`s to itself go to `target` instead. In the original (`twin` false) they also pass
   * the twin's extra always-zero i64 param; in the twin (`twin` true) the body's locals sit one
   * further up, past that param, and its self-calls go back to the original.
   */
  selfCalls?: { target: number; twin: boolean };
}

/** Where a profiling build's entry/exit reports go (module.ts appends these items). */
export interface ProfileHooks {
  /** Type index of `(i32 function, f64 fuel) -> ()`. */
  typeIndex: number;
  /** Index of the table holding the host's enter (slot 0) and exit (slot 1) functions. */
  table: number;
  /** Index of the mutable i32 global that turns the reports on (non-zero) and off. */
  flagGlobal: number;
}

// Bits of ifState (see BodyRewriter.sinkCharges): the then-arm, or the else edge, may go round
// the `if`'s loop again. While the else edge is the code after an `if` without `else`, whether it
// goes round is known only when the loop ends: until then the count of branches back to the loop
// read at the `if`'s `end` sits above these bits.
const IF_THEN_HOT = 1, IF_OTHER_HOT = 2, IF_BITS = 2;

// Kinds of a branch to a block (see BodyRewriter.branchToBlock; a br_if with an entry in the brIf
// arrays is recorded as that index instead), and a block's jbHead once a br_table reaches it.
const JB_BR = -1, JB_BR_IF = -2, JB_TABLED = -3;

/** writeBeforeCall of a function not looked at yet (see BodyContext). */
export const WRITE_UNKNOWN = 2;

// Edit kinds, applied in walk order at original byte positions. A const enum: its members are
// number literals in the compiled code, and V8 makes a jump table only of a switch over literals.
const enum E {
  ENTRY = 0, // entry charge + check (arg: segment)
  SEG = 1, // plain segment charge (arg: segment)
  AFTER_CALL = 2, // reload from the global + segment charge (arg: segment)
  LOOP = 3, // segment charge + check (arg: segment); before the `loop` opcode when the loop may be rotated
  SAVE = 4, // write the local back to the global
  BULK_TEE = 5, // keep the bulk length in the scratch local
  AFTER_BULK = 6, // charge the bulk length + segment, then check (arg: segment)
  FINAL = 7, // before the function's final `end`
  PUSH_FUEL = 8, // push the fuel local (the extra argument or result of a threaded call)
  AFTER_TCALL = 9, // take the fuel a threaded call returned + segment charge (arg: segment)
  LOCAL = 10, // renumber a local.get/set/tee past the fuel param (arg: end of its immediate)
  BR_IF = 11, // a br_if that may refund on its taken edge (arg: index into the brIf arrays)
  VERSION = 12, // before a loop: the unmetered copy of a counted loop (arg: index into versions, or -1)
  VERSION_END = 13, // after that loop's end: closes the metered copy (arg: index into versions)
  RETURN = 14, // a `return` in a function that is not threaded: write the local back (as E.SAVE)
  SELF_CALL = 15, // a `call` to itself that goes to the twin or back (arg: end of its immediate)
  BACK_EDGE = 17, // a `br`/`br_if` to a loop that may be rotated: its check on that edge (arg: its header segment)
  CHECK_ARM = 18, // at the start of an arm of an `if` a check sinks into: that check (arg: the check's segment)
  CHECK_ELSE = 19, // before the `end` of that `if` when it has no `else`: an `else` with that check (arg: the same)
  CHECK_FUSED = 20, // before that `if`: its condition also requires the fuel to pass that check (arg: the same)
  CHECK_THEN = 21, // at the start of its then-arm: that check, where it is not fused (arg: the same)
}

// Flags of a frame in needsSaveAfterCalls' backward pass.
const R_LABEL = 1, R_END = 2, R_ELSE = 4, R_HAS_ELSE = 8;

const enum Frame {
  Func,
  Block,
  Loop,
  If,
  Else,
  /** A `try` body (legacy exception handling), up to its first `catch` or `catch_all`. */
  Try,
  /** A `try` from its first `catch`/`catch_all` on. */
  Catch,
}

/** FREE_OPCODES as a table by opcode: the walk asks once per operator. */
const FREE = new Uint8Array(256);
for (const op of FREE_OPCODES) FREE[op] = 1;

/**
 * Operators that cannot trap and change nothing outside the function's own locals and stack: the
 * entry check, or a loop's, may move past them (see the `if` case in BodyRewriter.walk).
 */
const PURE = new Uint8Array(256);
for (const op of [0x01, 0x02, 0x1a, 0x1b, 0x20, 0x21, 0x22, 0x23, 0x41, 0x42, 0x43, 0x44]) PURE[op] = 1;
for (let op = 0x45; op <= 0xc4; op++) PURE[op] = 1;
// Integer division and remainder trap on 0, float-to-int truncations on NaN and overflow.
for (const op of [0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82, 0xa8, 0xa9, 0xaa, 0xab, 0xae, 0xaf, 0xb0, 0xb1]) PURE[op] = 0;

/** Operators that end a counted-loop candidate (see counted-loops.ts): any control flow but its own back edge. */
const CONTROL_OPS = new Uint8Array(256);
for (const op of [0x00, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0c, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x18, 0x19]) CONTROL_OPS[op] = 1;

/** What the walk over a body found, for the passes and the emitter. */
interface Walked {
  /** Start of the local declarations (after their count). */
  declsStart: number;
  /** End of the locals declarations. */
  localsEnd: number;
  /** Number of local groups declared. */
  groups: number;
  fuelLocal: number;
  /** Scratch i32 local for variable bulk lengths. */
  lenLocal: number;
  usesBulk: boolean;
  loopCount: number;
  threadedCalls: number;
}

/** A counted loop that gets an unmetered copy (see counted-loops.ts). */
interface Versioned extends CountedLoop {
  /** Position of the `loop` opcode and of its `end`. */
  loopAt: number;
  endAt: number;
  /** The loop's one segment (its whole body) and the segment its exit starts. */
  headerSeg: number;
  postSeg: number;
}

function unsupported(feature: string, op: string, at: number, funcIndex: number): WasmFormatError {
  return new WasmFormatError(
    'unsupported',
    `unsupported feature: ${feature} (\`${op}\` in function ${funcIndex} at byte 0x${at.toString(16)}); bext runs the features Node 20 runs: multi-value, bulk memory, sign-ext, non-trapping float-to-int, mutable globals, reference types, SIMD, tail calls, exception handling (legacy)`,
  );
}

function invalid(msg: string, at: number): WasmFormatError {
  return new WasmFormatError('invalid', `invalid: ${msg} at byte 0x${at.toString(16)}`);
}

/** Shared scratch state, reused across functions to avoid allocation churn on big modules. */
export class BodyRewriter {
  // Per-body scratch, reused from body to body (see int-list.ts): cleared by setting `n = 0`.
  private readonly editPos = new IntList(1024);
  private readonly editKind = new ByteList(1024);
  private readonly editArg = new IntList(1024);
  private readonly segCost = new IntList(256);
  /** Per segment: how many frames (besides the function's own) are open where it starts. */
  private readonly segDepth = new IntList(256);
  /** Per segment: 1 when it is a loop header and the loop (inner loops included) makes no calls (see emit). */
  private readonly segLeafLoop = new ByteList(256);
  /**
   * Per segment heading a loop whose check may move from its header to its entry and its back
   * edges (its E.LOOP edit then sits before the `loop` opcode): 1 when it does if the loop is a
   * leaf loop, 2 when it may not after all (a `br_table` goes back to it); else 0. Filled from
   * loopRotate when the walk ends, as is segSink.
   */
  private readonly segRotate = new ByteList(256);
  /**
   * Per segment: 1 when the check at its start (the entry check of segment 0, a loop header's
   * check) sinks into the arms of the `if` that ends it (see the `if` case in walk).
   */
  private readonly segSink = new ByteList(256);
  // Per loop, by ordinal: its header segment, whether its check may be rotated (see segRotate)
  // and sinks into an `if` (see segSink), and how many branches back to it were read so far.
  private readonly loopHeader = new IntList();
  private readonly loopRotate = new ByteList();
  private readonly loopSink = new ByteList();
  private readonly loopBack = new IntList();
  // Per `if` inside a loop, in the order they open (see sinkCharges): the segment that ends at it
  // (its then-arm starts the next one), the segment its else edge starts (-1 when other paths
  // join it), and its IF_* bits.
  private readonly ifFrom = new IntList();
  private readonly ifElse = new IntList();
  private readonly ifState = new IntList();
  // Per open `if` (a stack): its index in the if lists (-1: none), the check that sinks into its
  // arms (see checkOf in walk; -1: none), and the count of branches back to its loop read when it
  // opened, then at its `else`.
  private readonly openIf = new IntList();
  private readonly openIfSink = new IntList();
  private readonly openIfBack = new IntList();
  /** The ifs whose else edge is the code after their `end`, until their loop ends (a stack). */
  private readonly pendingIfs = new IntList();
  /** Per open loop (a stack): the height of pendingIfs when it opened. */
  private readonly loopPending = new IntList();
  private readonly frameKind = new ByteList();
  private readonly frameTargeted = new ByteList();
  // Per open frame: the segment current at its opening op, the observation count then, whether a
  // branch has left it from inside, and (for `if`) the segments starting its two arms.
  private readonly frameSeg = new IntList();
  private readonly frameObs = new IntList();
  private readonly frameEscaped = new ByteList();
  private readonly frameThen = new IntList();
  private readonly frameElse = new IntList();
  private readonly frameThenLive = new ByteList();
  /** Per open frame: its serial id (for frameFallsOut); per open loop: its ordinal and frame index. */
  private readonly frameId = new IntList();
  private readonly frameLoopId = new IntList();
  private readonly loopAt = new IntList();
  // Finished constructs, in order of their `end`: [opening segment, join segment (or -1),
  // then-arm segment (or -1), else-arm segment (or -1), 1 if observation-free].
  private readonly constructs = new IntList(256);
  /** Per segment: where its charge moved (see hoistCharges), or -1. */
  private readonly movedTo = new IntList(256);
  private readonly evKind = new ByteList(1024);
  private readonly evArg = new IntList(1024);
  private readonly evTable = new IntList();
  /** Per segment (read at the after-call segments of threaded calls): the global must be written when the call returns. */
  private readonly saveAfter = new ByteList(256);
  private readonly loopGuess = new ByteList();
  /** The frames of needsSaveAfterCalls' backward pass (flags, see there). */
  private readonly rFrames = new ByteList();
  // Per forward br_if inside a loop: the segment it ends, the segment its fall-through starts,
  // its depth, the end of its immediate, and the fuel its taken edge gives back.
  private readonly brIfFrom = new IntList();
  private readonly brIfNext = new IntList();
  private readonly brIfDepth = new IntList();
  private readonly brIfEnd = new IntList();
  private readonly brIfRefund = new IntList();
  /** Per br_if: it leaves its loop (see chargeFallThroughs); -1 - frame id while undecided. */
  private readonly brIfLeaves = new IntList();
  /** By frame id: 1 when the code right after the frame's end is the end of a loop. */
  private readonly frameFallsOut = new ByteList();
  // Per `br`/`br_if` to a block: the segment it ends (a br_if's fall-through starts the next
  // one), what it is (JB_BR, JB_BR_IF, or a br_if's index in the brIf arrays), and the branch read
  // before it to the same block (-1: none); by frame id, the last such branch, or JB_TABLED once a
  // `br_table` branches to the frame. Finished targeted blocks, in order of their `end`: frame id,
  // the segment after the end (the join), the segment that falls off the end (-1 when none
  // reaches it), and 1 when the end is right before a loop's end. (As few lists as will do: the
  // walk pushes to them for every branch and frame, and instrumenting huge modules is timed.)
  private readonly jbFrom = new IntList();
  private readonly jbKind = new IntList();
  private readonly jbPrev = new IntList();
  private readonly jbHead = new IntList();
  private readonly joins = new IntList();
  private readonly frameVoid = new ByteList();
  /** The event lists, as the first pass fills them. */
  private readonly events: EventLists = { evKind: this.evKind, evArg: this.evArg, evTable: this.evTable };
  private readonly firstPass = new FirstPass();
  /** The lists above that walk() empties at the start of every body (by kind: each loop over them stays monomorphic). */
  private readonly bodyIntLists: readonly IntList[] = [
    this.editPos, this.editArg, this.segCost, this.segDepth, this.frameSeg, this.frameObs, this.frameThen,
    this.frameElse, this.frameId, this.frameLoopId, this.loopAt, this.constructs, this.evArg, this.evTable,
    this.brIfFrom, this.brIfNext, this.brIfDepth, this.brIfEnd, this.brIfRefund, this.brIfLeaves,
    this.jbFrom, this.jbKind, this.jbPrev, this.jbHead, this.joins,
    this.loopHeader, this.loopBack,
    this.ifFrom, this.ifElse, this.ifState, this.openIf, this.openIfSink, this.openIfBack, this.pendingIfs, this.loopPending,
  ];
  private readonly bodyByteLists: readonly ByteList[] = [
    this.editKind, this.segLeafLoop, this.loopRotate, this.loopSink, this.frameKind, this.frameTargeted, this.frameEscaped, this.frameThenLive,
    this.evKind, this.frameFallsOut, this.frameVoid,
  ];
  private versions: Versioned[] = [];
  private readonly vOps = new IntList(256);
  private readonly vWrites = new IntList(64);
  private readonly writer = new BodyWriter();
  /** What the last walk found (one object, refilled by every walk). */
  private readonly walked: Walked = { declsStart: 0, localsEnd: 0, groups: 0, fuelLocal: 0, lenLocal: 0, usesBulk: false, loopCount: 0, threadedCalls: 0 };
  /** A reader over the module being rewritten, moved from body to body. */
  private reader: Reader | undefined;
  /**
   * Where emitted code comes from (see offset-map.ts), recorded as each body is written, with
   * offsets relative to the body (the caller places them); unset, nothing is recorded.
   */
  offsets: OffsetMapBuilder | undefined;
  /**
   * Filled by each walk: the functions this body tail-calls (`return_call`), and whether it has a
   * `return_call_indirect`. module.ts needs both to keep tail calls' signatures matching (a
   * function and the functions it tail-calls must all be threaded or all not).
   */
  readonly tailCallees: number[] = [];
  tailCallsIndirect = false;
  /** Filled by each walk: how many `call`s the body makes to itself. */
  selfCalls = 0;

  /** Moves charges to earlier segments where that is exact (see hoistCharges). Off only in tests. */
  constructor(private readonly hoist = true) {}

  /**
   * Moves charges earlier where no check or write-back can tell the difference, so fewer
   * segments need a charge of their own. Fuel is only ever observed at checks and write-backs;
   * between two of those, only the sum charged on each path matters, not where it was charged.
   *
   * - The arms of an `if`/`else` both start right after the `if`, with nothing observed in
   *   between: the cost both arms pay at their start (the smaller one) is charged before the `if`.
   *   An `if` without `else` whose then-arm never falls off its end counts the code after the
   *   `end` as its else arm (loops like `if (more) { ...; continue } finish`).
   * - The code after an `if` or a branched-to `block` is reached by every path through the
   *   construct. When nothing inside the construct is observed and no branch leaves it, that
   *   code's cost is charged before the construct instead.
   *
   * Constructs are visited in the order they end, so inner ones are settled first; `movedTo`
   * follows a segment whose charge has already moved.
   */
  private hoistCharges(): void {
    const constructs = this.constructs.a;
    const count = this.constructs.n;
    if (count === 0) return;
    const segCost = this.segCost.a;
    this.movedTo.reset(this.segCost.n, -1);
    const movedTo = this.movedTo.a;
    for (let i = 0; i < count; i += 5) {
      let into = constructs[i]!;
      while (movedTo[into] !== -1) into = movedTo[into]!;
      const join = constructs[i + 1]!;
      const thenSeg = constructs[i + 2]!;
      const elseSeg = constructs[i + 3]!;
      if (thenSeg >= 0 && elseSeg >= 0) {
        const m = Math.min(segCost[thenSeg]!, segCost[elseSeg]!);
        segCost[into]! += m;
        segCost[thenSeg]! -= m;
        segCost[elseSeg]! -= m;
      }
      if (constructs[i + 4] === 1) {
        segCost[into]! += segCost[join]!;
        segCost[join] = 0;
        movedTo[join] = into;
      }
    }
  }

  /**
   * Moves the charge of a segment that ends at an `if` into the first segment of each of its two
   * edges, when no other path joins either (the then-arm; the else-arm, or the code after an
   * `if` whose then-arm never falls off its end). Nothing is observed between the `if` and the
   * start of an arm, so each path pays the same at each check and write-back; but a path down
   * nested `if`s then pays one charge where it paid one per level. In a hot loop the charges
   * form a chain of dependent subtractions, one per level, and on some processors that chain is
   * slower than the loop itself. Outer `if`s go first, so a charge moves down as far as the arms
   * go on being entered by one edge only.
   */
  private sinkCharges(): void {
    const ifFrom = this.ifFrom.a, ifElse = this.ifElse.a, ifState = this.ifState.a, segCost = this.segCost.a;
    for (let k = 0; k < this.ifFrom.n; k++) {
      const from = ifFrom[k]!;
      const then = from + 1;
      const other = ifElse[k]!;
      const c = segCost[from]!;
      if (other < 0 || c === 0) continue;
      // Only where it saves a charge on a path that may go round the loop again: moving the one
      // charge of such a path from the top of the iteration to an arm made SHA-256's rounds 8%
      // slower. An arm is cold when it leaves the loop on every path: it cannot fall off its end
      // and no branch back to the loop was read in it (for the code after an `if` without `else`,
      // between the `if`'s end and the loop's).
      const state = ifState[k]!;
      const both = (state & (IF_THEN_HOT | IF_OTHER_HOT)) === 0;
      const thenHot = both || (state & IF_THEN_HOT) !== 0;
      const otherHot = both || (state & IF_OTHER_HOT) !== 0;
      if (!((thenHot && segCost[then]! > 0) || (otherHot && segCost[other]! > 0))) continue;
      segCost[then]! += c;
      segCost[other]! += c;
      segCost[from] = 0;
    }
  }

  /**
   * Charges the code after a branched-to block (its join) on the ways into it, so a path pays it
   * together with a charge it pays anyway:
   * - a `br` pays it with the code before the branch;
   * - a `br_if` with a refund on its taken edge (chargeFallThroughs) pays it on that edge;
   * - any other `br_if` pays it with the code before the branch, and its fall-through gives it
   *   back in its own charge;
   * - the code that falls off the block's end pays it there.
   * A branch that skips the rest of the block (`if (composite[i]) continue;` in a sieve) then
   * costs one charge where it cost two, and so does leaving a scanning loop through a refunded
   * edge (whitespace skipping in a parser, which mostly leaves at once). On every path the sum
   * between two observations is unchanged: nothing is observed between a segment's charge and its
   * end, or between a taken edge and the join, and each path pays the join once, on the way it
   * takes into it.
   *
   * Only where no path gets a charge more: every fall-through that gives back must have a charge
   * of its own to fold into (a path through one then pays at most one more charge, where it
   * enters the join, for the join's own that goes), and some way in must have one to fold into
   * too (else nothing is saved). Blocks a `br_table` reaches are left alone (a table's edge has
   * no segment of its own), and so are those hoistCharges already charged before the block.
   * Blocks whose end is right before a loop's end go after chargeFallThroughs (`fallsOut` 1),
   * which gives their branches' edges the refunds; the others before it (`fallsOut` 0).
   */
  private chargeJoinsEarly(fallsOut: number): void {
    const joins = this.joins.a, segCost = this.segCost.a, brIfRefund = this.brIfRefund.a;
    const jbFrom = this.jbFrom.a, jbKind = this.jbKind.a, jbPrev = this.jbPrev.a, jbHead = this.jbHead.a;
    for (let i = 0; i < this.joins.n; i += 4) {
      if (joins[i + 3] !== fallsOut) continue;
      const id = joins[i]!, join = joins[i + 1]!, fall = joins[i + 2]!;
      const j = segCost[join]!;
      if (j === 0 || jbHead[id] === JB_TABLED) continue;
      let saves = fall >= 0 && segCost[fall] !== 0;
      let ok = true;
      for (let b = jbHead[id]!; b >= 0; b = jbPrev[b]!) {
        const k = jbKind[b]!;
        if (fallsOut === 1 && k >= 0) {
          if (brIfRefund[k] !== 0) saves = true;
          continue;
        }
        if (k !== JB_BR && segCost[jbFrom[b]! + 1] === 0) {
          ok = false;
          break;
        }
        if (segCost[jbFrom[b]!] !== 0) saves = true;
      }
      if (!ok || !saves) continue;
      for (let b = jbHead[id]!; b >= 0; b = jbPrev[b]!) {
        const k = jbKind[b]!;
        if (fallsOut === 1 && k >= 0) {
          brIfRefund[k]! -= j;
          continue;
        }
        const from = jbFrom[b]!;
        segCost[from]! += j;
        // A br_if's fall-through is the segment after the one it ends (startSeg follows it).
        if (k !== JB_BR) segCost[from + 1]! -= j;
      }
      if (fall >= 0) segCost[fall]! += j;
      segCost[join] = 0;
    }
  }

  /**
   * For a `br_if` that leaves its loop, charges the fall-through together with the code before
   * the branch, and gives that amount back on the taken edge. A loop that scans until one of
   * several conditions holds (`while (p < end && *p != c)`) then pays one charge per iteration
   * instead of one per condition; leaving the loop, which happens once, pays the refund. Nothing
   * is observed between the two segments, so only the sum on each path matters. Later branches
   * go first, so a chain of them folds into the first segment.
   *
   * A branch leaves its loop when its target is outside the loop, or is a block whose end is
   * followed right away by the loop's end. Forward branches that stay inside the loop (skipping
   * part of an iteration) are left alone: they may well be the common path.
   */
  private chargeFallThroughs(): void {
    const brIfFrom = this.brIfFrom.a, brIfNext = this.brIfNext.a, brIfRefund = this.brIfRefund.a;
    const brIfLeaves = this.brIfLeaves.a, frameFallsOut = this.frameFallsOut.a, segCost = this.segCost.a;
    for (let k = this.brIfFrom.n - 1; k >= 0; k--) {
      const leaves = brIfLeaves[k]!;
      if (leaves === 0 || (leaves < 0 && frameFallsOut[-1 - leaves] === 0)) continue;
      const next = brIfNext[k]!;
      const amount = segCost[next]!;
      brIfRefund[k] = amount;
      if (amount === 0) continue;
      segCost[brIfFrom[k]!]! += amount;
      segCost[next] = 0;
    }
  }

  /**
   * Decides, for each threaded call, whether the global must be written right after it returns.
   *
   * The callee hands its fuel back in a register; wasmtime's counter would already be in memory.
   * The difference can only show if something traps before the global is next written (a save
   * before a call or `unreachable`, or the function's exit), since a trap reports the global.
   * So the write is needed only when some path from the return reaches an operator that can trap
   * first. This is a backward pass over the recorded control-flow events; loops iterate to a
   * fixed point (their header's answer feeds their back edges).
   */
  private needsSaveAfterCalls(loops: number, segments: number): boolean {
    this.saveAfter.reset(segments, 0);
    // Without an operator that can trap, no path reaches one: the answer is no everywhere (what
    // the pass below finds too, since nothing it reads ever becomes true).
    if (!this.hasTrap()) return false;
    this.loopGuess.reset(loops, 0);
    const evKind = this.evKind.a, evArg = this.evArg.a, evTable = this.evTable.a, saveAfter = this.saveAfter.a;
    const loopGuess = this.loopGuess.a;
    const count = this.evKind.n;
    // The frames, entered at their `end` (this pass runs backwards) and left at their opening: a
    // stack of flags, R_LABEL (a branch to it is reached by a path that may trap before a
    // write), R_END (so is its end), R_ELSE (so is its else arm's start) and R_HAS_ELSE. At most
    // one frame per event, plus the function's own.
    this.rFrames.reset(count + 1, 0);
    const st = this.rFrames.a;
    for (;;) {
      let changed = false;
      // The function's own label: its exit writes the global (or hands the fuel back).
      st[0] = 0;
      let sp = 1;
      let cur = false;
      for (let i = count - 1; i >= 0; i--) {
        const a = evArg[i]!;
        switch (evKind[i]) {
          case V.TRAP:
            cur = true;
            break;
          case V.SAVE:
            cur = false;
            break;
          case V.RETURNED:
            saveAfter[a] = cur ? 1 : 0;
            break;
          case V.END:
            st[sp++] = ((a >= 0 ? loopGuess[a] === 1 : cur) ? R_LABEL : 0) | (cur ? R_END : 0);
            break;
          case V.CATCH:
            // A handler is entered only by an exception, and every throw writes the global
            // first; the code before the `catch` falls through to the end of the `try`.
            cur = (st[sp - 1]! & R_END) !== 0;
            break;
          case V.ELSE: {
            const f = st[sp - 1]!;
            st[sp - 1] = (f & (R_LABEL | R_END)) | (cur ? R_ELSE : 0) | R_HAS_ELSE;
            cur = (f & R_END) !== 0;
            break;
          }
          case V.IF: {
            const f = st[sp - 1]!;
            cur = cur || (f & R_HAS_ELSE ? (f & R_ELSE) !== 0 : (f & R_END) !== 0);
            sp--;
            break;
          }
          case V.BLOCK:
            sp--;
            break;
          case V.LOOP:
            if (cur && loopGuess[a] === 0) {
              loopGuess[a] = 1;
              changed = true;
            }
            sp--;
            break;
          case V.BR:
            cur = sp - 1 - a >= 0 && (st[sp - 1 - a]! & R_LABEL) !== 0;
            break;
          case V.BR_IF:
            cur = cur || (sp - 1 - a >= 0 && (st[sp - 1 - a]! & R_LABEL) !== 0);
            break;
          case V.BR_TABLE: {
            const n = evTable[a]!;
            cur = false;
            for (let j = 1; j <= n && !cur; j++) {
              const d = evTable[a + j]!;
              cur = sp - 1 - d >= 0 && (st[sp - 1 - d]! & R_LABEL) !== 0;
            }
            break;
          }
        }
      }
      if (!changed) return cur;
    }
  }

  /**
   * Reads locals + expression from `buf[start, end)` and appends to `out` a copy of those bytes,
   * then the rewritten body (without its size prefix); returns the body's length (it ends at
   * `out.len`; the caller moves it over the copy). Written straight into the caller's output, a
   * body needs no buffer of its own (nor a view of one) on the way: the walk renumbers local
   * accesses in the copy, and every stretch of the input emit() writes comes from the copy, so
   * within one buffer (copyWithin, which is much cheaper than copying between two).
   */
  rewrite(out: Writer, buf: Uint8Array, start: number, end: number, ctx: BodyContext): number {
    const size = end - start;
    const copyAt = out.len;
    out.reserve(copyAt + size);
    const copy = out.buf;
    // Byte by byte up to a few kilobytes: a view per body (what set() needs) would have V8 grow
    // its young generation by ten megabytes or so on a module of 300,000 functions.
    if (size <= 4096) for (let i = 0; i < size; i++) copy[copyAt + i] = buf[start + i]!;
    else copy.set(buf.subarray(start, end), copyAt);
    out.len = copyAt + size;
    this.copyBuf = copy;
    this.copyDelta = copyAt - start;
    const w = this.walk(buf, start, end, ctx);
    if (this.hoist) {
      this.hoistCharges();
      this.chargeJoinsEarly(0);
      this.chargeFallThroughs();
      this.chargeJoinsEarly(1);
      this.sinkCharges();
    }
    this.entryAnswer = -1;
    if (w.threadedCalls > 0) {
      if (this.hoist) this.entryAnswer = this.needsSaveAfterCalls(w.loopCount, this.segCost.n) ? 1 : 0;
      else this.saveAfter.reset(this.segCost.n, 1);
    }
    return this.emit(out, buf, w, ctx);
  }

  /**
   * After rewrite(): mayTrapBeforeWrite's answer for the body just rewritten, from the events its
   * walk recorded (the same events, so the same answer; the analysis has often run already).
   */
  lastMayTrapBeforeWrite(): boolean {
    if (this.trapsFirst) return true;
    if (this.entryAnswer >= 0) return this.entryAnswer === 1;
    return this.needsSaveAfterCalls(this.walked.loopCount, this.segCost.n);
  }

  /** needsSaveAfterCalls' answer at the entry of the last body rewritten, when it ran (1 yes, 0 no), else -1. */
  private entryAnswer = -1;

  /** Reads the body for `tailCallees` and `tailCallsIndirect` only. */
  scanTailCalls(buf: Uint8Array, start: number, end: number, ctx: BodyContext): void {
    this.walk(buf, start, end, ctx, true);
  }

  /**
   * Whether the function, once entered, may reach an operator that can trap before it writes
   * `bext_fuel` itself (before a call or `unreachable`) or returns. When it cannot, a caller
   * that passes the fuel in a register need not write the global first: nothing can read it
   * before the callee writes it, and after the callee returns the caller's own analysis
   * (needsSaveAfterCalls) covers what follows. Stack overflow is left out: V8 and wasmtime
   * overflow at different depths, so no count of it is engine-independent.
   */
  mayTrapBeforeWrite(buf: Uint8Array, start: number, end: number, ctx: BodyContext): boolean {
    // The lean read of first-pass.ts answers for nearly every body; the walk for the rest.
    const loops = this.firstPass.scan(buf, start, end, ctx.params, ctx.threadedFuncs, this.events);
    if (loops !== UNSURE) {
      // What the walk would have found of tail calls: none (the lean read leaves them to it).
      if (this.tailCallees.length > 0) this.tailCallees.length = 0;
      this.tailCallsIndirect = false;
      this.selfCalls = 0;
      // The events stand for no segments (their V.RETURNED arguments are all 0).
      return loops === TRAPS_FIRST || this.needsSaveAfterCalls(loops, 1);
    }
    const walked = this.walk(buf, start, end, ctx, true, true);
    return this.trapsFirst || this.needsSaveAfterCalls(walked.loopCount, this.segCost.n);
  }

  /**
   * Whether a call to the threaded function `callee` writes the global first (see
   * mayTrapBeforeWrite), found when not known yet. (The walks that only scan leave the question
   * alone: they record no code, and a scan may be the one finding such an answer.)
   */
  private writesBeforeCall(callee: number, ctx: BodyContext): boolean {
    const w = ctx.writeBeforeCall[callee];
    return (w === WRITE_UNKNOWN ? ctx.resolveWriteBeforeCall!(callee) : w) === 1;
  }

  /**
   * The copy of the body being rewritten (see rewrite): the input's byte i is `copyBuf[i +
   * copyDelta]`; the walk renumbers local accesses in it.
   */
  private copyBuf: Uint8Array = new Uint8Array(0);
  private copyDelta = 0;

  /** Whether the recorded events include an operator that can trap. */
  private hasTrap(): boolean {
    const evKind = this.evKind.a;
    for (let i = 0, n = this.evKind.n; i < n; i++) if (evKind[i] === V.TRAP) return true;
    return false;
  }

  /** The reader, over `buf[start, end)`. */
  private readerOver(buf: Uint8Array, start: number, end: number): Reader {
    let r = this.reader;
    if (!r || r.buf !== buf) r = this.reader = new Reader(buf);
    r.pos = start;
    r.end = end;
    return r;
  }

  // State of the walk in progress, shared with the helpers below (fields rather than locals
  // captured by closures: a module of many small functions would allocate those for every body).
  /** The current segment. */
  private seg = 0;
  /** Counts the points where the fuel local is observed (checks and write-backs). */
  private observations = 0;
  /** Frames opened so far (the next frame's serial id). */
  private frames = 0;
  /**
   * While the walk is on the straight line from the entry: every operator so far falls through
   * to the next (blocks, loops and `if`s are entered, `br_if`s not taken, `end`s passed), and none
   * of them writes the global (no call, `return` or throw). An operator that can trap there is
   * reached by a path that writes nothing first, which is all mayTrapBeforeWrite asks;
   * needsSaveAfterCalls, which looks at every path, would say yes too.
   */
  private straight = false;
  /** Set when the walk met such an operator. */
  private trapsFirst = false;
  /** Whether the walk stops there (mayTrapBeforeWrite's), and whether it did. */
  private stopAtTrap = false;
  private stopped = false;

  private ev(kind: number, arg: number): void {
    if (this.straight) {
      if (kind === V.TRAP) {
        this.trapsFirst = true;
        this.straight = false;
        this.stopped = this.stopAtTrap;
      } else if (kind === V.SAVE || kind === V.BR || kind === V.BR_TABLE || kind === V.ELSE || kind === V.CATCH) this.straight = false;
    }
    // Runs of trapping operators say no more than the first of them.
    if (kind === V.TRAP && this.evKind.n > 0 && this.evKind.top() === V.TRAP) return;
    this.evKind.push(kind);
    this.evArg.push(arg);
  }

  private startSeg(kind: number, pos: number): void {
    const seg = this.segCost.n;
    this.seg = seg;
    this.segCost.push(0);
    this.segDepth.push(this.frameKind.n - 1);
    this.segLeafLoop.push(0);
    this.editPos.push(pos);
    this.editKind.push(kind);
    this.editArg.push(seg);
  }

  private edit(kind: number, pos: number): void {
    if (kind === E.SAVE || kind === E.RETURN) this.observations++;
    this.editPos.push(pos);
    this.editKind.push(kind);
    this.editArg.push(0);
  }

  private open(kind: Frame, isVoid: boolean): void {
    this.frameVoid.push(isVoid ? 1 : 0);
    this.frameId.push(this.frames++);
    this.frameFallsOut.push(0);
    this.jbHead.push(-1);
    this.frameKind.push(kind);
    this.frameTargeted.push(0);
    this.frameSeg.push(this.seg);
    this.frameObs.push(this.observations);
    this.frameEscaped.push(0);
    this.frameThen.push(-1);
    this.frameElse.push(-1);
    this.frameThenLive.push(1);
  }

  /** Records a branch of `kind` (JB_BR, JB_BR_IF or a br_if's index in the brIf arrays) to a block (see chargeJoinsEarly). */
  private branchToBlock(depth: number, kind: number): void {
    const ti = this.frameKind.n - 1 - depth;
    if (this.frameKind.a[ti] !== Frame.Block) return;
    const id = this.frameId.a[ti]!;
    const head = this.jbHead.a[id]!;
    if (head === JB_TABLED) return;
    this.jbFrom.push(this.seg);
    this.jbKind.push(kind);
    this.jbPrev.push(head);
    this.jbHead.a[id] = this.jbFrom.n - 1;
  }

  /** A branch of depth `depth` at `at`. */
  private target(depth: number, at: number): void {
    const i = this.frameKind.n - 1 - depth;
    if (i < 0) throw invalid(`branch depth ${depth} out of range`, at);
    this.frameTargeted.a[i] = 1;
    // Every frame the branch jumps out of is left without reaching its own `end`.
    for (let j = this.frameKind.n - 1; j > i; j--) this.frameEscaped.a[j] = 1;
  }

  /**
   * A `br` or `br_if` of depth `depth` at `at`: when it goes back to a loop that may be rotated,
   * an edit that gives the edge the loop's check. Counts the branches back to each loop.
   */
  private backEdge(depth: number, at: number): void {
    const i = this.frameKind.n - 1 - depth;
    if (this.frameKind.a[i] !== Frame.Loop) return;
    const loop = this.loopOrdinal(i);
    this.loopBack.a[loop]!++;
    if (this.loopRotate.a[loop] !== 1) return;
    this.editPos.push(at);
    this.editKind.push(E.BACK_EDGE);
    this.editArg.push(this.loopHeader.a[loop]!);
  }

  /** The ordinal of the open loop whose frame is `frame`. */
  private loopOrdinal(frame: number): number {
    const loopAt = this.loopAt.a;
    let j = this.loopAt.n - 1;
    while (loopAt[j] !== frame) j--;
    return this.frameLoopId.a[j]!;
  }

  /** Reads a block type; true when the block has no results (so a branch to it carries none). */
  private blockType(r: Reader, funcIndex: number): boolean {
    const b = r.byte();
    if (b < 0x40) return false; // a small type index (positive s33 in one byte)
    if (b === 0x40) return true;
    if ((b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f) return false;
    if (b & 0x80) {
      r.pos--;
      r.skipLeb(5);
      return false;
    }
    throw unsupported('typed references / GC', `block type 0x${b.toString(16)}`, r.pos - 1, funcIndex);
  }

  private memarg(r: Reader, funcIndex: number): void {
    const align = r.u32();
    if (align & 0x40) throw unsupported('multi-memory', 'memarg with memory index', r.pos, funcIndex);
    r.skipLeb(5);
  }

  /**
   * Reads a body: its segments, edits, control-flow events and tail calls. `scanOnly` (the
   * passes that need the events and tail calls alone) skips what only emit() uses: the
   * renumbering of local accesses and the search for counted loops. `stopAtTrap` (for
   * mayTrapBeforeWrite) stops at an operator that can trap when the straight line from the entry
   * reaches it (see `straight`): the answer is then known, and most bodies give it early.
   */
  private walk(buf: Uint8Array, start: number, end: number, ctx: BodyContext, scanOnly = false, stopAtTrap = false): Walked {
    const r = this.readerOver(buf, start, end);
    this.straight = true;
    this.trapsFirst = false;
    this.stopAtTrap = stopAtTrap;
    this.stopped = false;
    // Locals: keep the groups as they are, append the fuel local (and a scratch i32 if needed).
    const groups = r.u32();
    const declsStart = r.pos;
    let locals = ctx.params;
    for (let i = 0; i < groups; i++) {
      const n = r.u32();
      const t = r.byte();
      if (!(t >= 0x7b && t <= 0x7f) && t !== 0x70 && t !== 0x6f) {
        if (t === 0x64 || t === 0x63 || t === 0x69) throw unsupported('typed references / GC / exceptions', `local of type 0x${t.toString(16)}`, r.pos - 1, ctx.funcIndex);
        throw invalid(`unknown local type 0x${t.toString(16)}`, r.pos - 1);
      }
      locals += n;
      if (locals > 50000) throw invalid(`function ${ctx.funcIndex} declares more than 50000 locals`, r.pos);
    }
    const localsEnd = r.pos;
    // A threaded function's fuel is its extra last param, which moves the declared locals up one.
    const threaded = ctx.threadedFuncs[ctx.funcIndex] === 1;
    const fuelLocal = threaded ? ctx.params : locals;
    // A twin's extra param sits right after the fuel param: one local more before bext's own.
    const lenLocal = locals + 1 + (ctx.selfCalls?.twin ? 1 : 0);
    const threadedFuncs = ctx.threadedFuncs;
    // A threaded function renumbers its local accesses. One whose index stays one byte (nearly
    // all) is renumbered in the copy of the body emit() copies from (see rewrite); only the others
    // become edits.
    const renumber = threaded && !scanOnly;
    const localShift = ctx.selfCalls?.twin ? 2 : 1;
    const copy = this.copyBuf;
    const copyDelta = this.copyDelta;

    // (Emptied only when filled: setting an array's length is a call into the engine.)
    if (this.tailCallees.length > 0) this.tailCallees.length = 0;
    this.tailCallsIndirect = false;
    this.selfCalls = 0;
    const { editPos, editKind, editArg, segCost, constructs } = this;
    const { frameKind, frameTargeted, frameSeg, frameObs, frameEscaped, frameThen, frameElse, frameThenLive } = this;
    const { segDepth, segLeafLoop, evTable, frameVoid, frameId, frameFallsOut } = this;
    const { loopHeader, loopRotate, loopSink, loopBack, ifFrom, ifElse, ifState, openIf, openIfSink, openIfBack, pendingIfs } = this;
    const intLists = this.bodyIntLists;
    for (let i = 0; i < intLists.length; i++) intLists[i]!.n = 0;
    const byteLists = this.bodyByteLists;
    for (let i = 0; i < byteLists.length; i++) byteLists[i]!.n = 0;
    this.observations = 0;
    // Counts calls, to tell loops whose body makes none.
    let calls = 0;
    let loopCount = 0;
    let threadedCalls = 0;
    this.seg = 0;
    segCost.push(0);
    segDepth.push(0);
    segLeafLoop.push(0);
    editPos.push(r.pos);
    editKind.push(E.ENTRY);
    editArg.push(0);
    frameKind.push(Frame.Func);
    frameTargeted.push(0);
    frameSeg.push(0);
    frameObs.push(0);
    frameEscaped.push(0);
    frameThen.push(-1);
    frameElse.push(-1);
    frameThenLive.push(1);
    // Per open frame: whether a branch to it carries no values, and a serial id (for
    // frameFallsOut). The function's own frame is id 0.
    frameVoid.push(ctx.resultBlockType.length === 1 && ctx.resultBlockType[0] === 0x40 ? 1 : 0);
    frameId.push(0);
    frameFallsOut.push(0);
    this.jbHead.push(-1);
    this.frames = 1;
    // False once the current code cannot run (after br, br_table, return, unreachable) until
    // the end of the innermost frame.
    let live = true;

    // The innermost loop while its body is straight-line so far (a counted-loop candidate): its
    // frame index (-1 when none), its E.VERSION edit, its header segment, and whether its
    // closing `br_if 0` was just read. vOps/vWrites collect what matchCountedLoop needs.
    const { versions, vOps, vWrites } = this;
    if (versions.length > 0) versions.length = 0;
    let vFrame = -1;
    let vEdit = -1;
    let vHeader = -1;
    let vBackEdge = false;

    let usesBulk = false;
    let lastConst = -1; // value of an immediately preceding i32.const in this segment, else -1
    // The segment whose check may still sink (the entry's, then each loop header's) while its
    // code has been pure so far (see PURE); -1 when none.
    const sinkChecks = this.hoist && !scanOnly;
    let checkSeg = sinkChecks ? 0 : -1;
    // ...and which: 0 for the entry's, k + 1 for loop k's.
    let checkOf = 0;
    let entrySink = false;
    const buf8 = buf;


    // Per open loop: its ordinal (for the events) and its frame index.
    const { frameLoopId, loopAt } = this;
    const { brIfFrom, brIfNext, brIfDepth, brIfEnd, brIfRefund, brIfLeaves } = this;
    let finished = false;
    while (!finished && !this.stopped) {
      if (r.pos >= end) throw new WasmFormatError('truncated', `truncated: function ${ctx.funcIndex} body ends before its final \`end\``);
      const at = r.pos;
      const op = buf8[r.pos++]!;
      if (FREE[op] === 0) segCost.a[this.seg]! += 1;
      if (checkSeg >= 0 && PURE[op] === 0 && op !== 0x04) checkSeg = -1;
      if (vFrame >= 0) {
        if ((vBackEdge && op !== 0x0b) || CONTROL_OPS[op] === 1 || vOps.n > 4096) vFrame = -1;
        else vOps.push(at);
      }
      const prevConst = lastConst;
      lastConst = -1;
      switch (op) {
        case 0x00: // unreachable
          this.edit(E.SAVE, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        case 0x01: // nop
        case 0x1a: // drop
        case 0x1b: // select
          break;
        case 0x02: // block
          this.open(Frame.Block, this.blockType(r, ctx.funcIndex));
          this.ev(V.BLOCK, 0);
          break;
        case 0x03: {
          // loop
          // A loop whose block type is not a type index has no params, so branches to it carry no values.
          const bt = buf8[r.pos]!;
          const rotate = this.hoist && !scanOnly && (bt === 0x40 || (bt >= 0x7b && bt <= 0x7f) || bt === 0x70 || bt === 0x6f);
          const isVoid = this.blockType(r, ctx.funcIndex);
          this.open(Frame.Loop, isVoid);
          loopAt.push(frameKind.n - 1);
          vFrame = -1;
          if (isVoid && this.hoist && !scanOnly) {
            vFrame = frameKind.n - 1;
            vOps.n = 0;
            vWrites.n = 0;
            vBackEdge = false;
            vEdit = editPos.n;
            editPos.push(at);
            editKind.push(E.VERSION);
            editArg.push(-1);
          }
          this.ev(V.LOOP, loopCount);
          frameLoopId.push(loopCount++);
          this.observations++;
          // After the counted-loop edit: a rotated metered copy checks inside its `else`.
          this.startSeg(E.LOOP, rotate ? at : r.pos);
          loopHeader.push(this.seg);
          loopRotate.push(rotate ? 1 : 0);
          loopSink.push(0);
          loopBack.push(0);
          if (sinkChecks) this.loopPending.push(pendingIfs.n);
          if (sinkChecks) {
            checkSeg = this.seg;
            checkOf = loopCount;
          }
          vHeader = this.seg;
          frameThen.a[frameThen.n - 1] = this.seg;
          frameElse.a[frameElse.n - 1] = calls;
          break;
        }
        case 0x04: // if
          this.open(Frame.If, this.blockType(r, ctx.funcIndex));
          this.ev(V.IF, 0);
          if (sinkChecks) {
            if (loopAt.n > 0) {
              openIf.push(ifFrom.n);
              openIfBack.push(loopBack.a[frameLoopId.top()]!);
              ifFrom.push(this.seg);
              ifElse.push(-1);
              ifState.push(0);
            } else {
              openIf.push(-1);
              openIfBack.push(0);
            }
            let sink = -1;
            if (checkSeg === this.seg) {
              // The first branch after the entry or a loop header, with nothing between that a
              // trap or the host could tell apart: the check moves to the start of each arm,
              // before its charge, with the same fuel. On some processors a check ahead of the
              // data-dependent branch costs far more than one after it (fib: 1.22 -> 1.04).
              sink = checkOf;
              if (sink === 0) entrySink = true;
              else loopSink.a[sink - 1] = 1;
              editPos.push(at);
              editKind.push(E.CHECK_FUSED);
              editArg.push(checkSeg);
              editPos.push(r.pos);
              editKind.push(E.CHECK_THEN);
              editArg.push(checkSeg);
            }
            openIfSink.push(sink);
          }
          checkSeg = -1;
          this.startSeg(E.SEG, r.pos);
          frameThen.a[frameThen.n - 1] = this.seg;
          break;
        case 0x06: // try: a block whose handlers follow its body (see costs.ts for its cost)
          this.open(Frame.Try, this.blockType(r, ctx.funcIndex));
          this.ev(V.BLOCK, 0);
          // Handlers reload the fuel from the global: nothing may be charged across the `try`.
          this.observations++;
          break;
        case 0x07: // catch
        case 0x19: {
          // catch_all
          const k = frameKind.top();
          if (k !== Frame.Try && k !== Frame.Catch) throw invalid(`\`${op === 0x07 ? 'catch' : 'catch_all'}\` without \`try\``, at);
          if (op === 0x07) r.u32();
          frameKind.a[frameKind.n - 1] = Frame.Catch;
          this.ev(V.CATCH, 0);
          live = true;
          // The handler is entered by unwinding: what the thrower (this function or a callee)
          // charged is in the global, which every throw writes first; reload it.
          this.observations++;
          this.startSeg(E.AFTER_CALL, r.pos);
          break;
        }
        case 0x08: // throw
        case 0x09: // rethrow
          r.u32();
          // Like `unreachable`, but the exception may be caught: the handler reads the global.
          this.edit(E.SAVE, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        case 0x05: // else
          if (frameKind.top() !== Frame.If) throw invalid('`else` without `if`', at);
          frameKind.a[frameKind.n - 1] = Frame.Else;
          this.ev(V.ELSE, 0);
          frameThenLive.a[frameThenLive.n - 1] = live ? 1 : 0;
          live = true;
          if (sinkChecks) {
            const sink = openIfSink.top();
            if (sink >= 0) {
              editPos.push(r.pos);
              editKind.push(E.CHECK_ARM);
              editArg.push(sink === 0 ? 0 : loopHeader.a[sink - 1]!);
            }
            const slot = openIf.top();
            if (slot >= 0) {
              const back = loopBack.a[frameLoopId.top()]!;
              if (frameThenLive.top() === 1 || frameTargeted.top() === 1 || back !== openIfBack.top()) ifState.a[slot] = IF_THEN_HOT;
              openIfBack.a[openIfBack.n - 1] = back;
              ifElse.a[slot] = segCost.n;
            }
          }
          this.startSeg(E.SEG, r.pos);
          frameElse.a[frameElse.n - 1] = this.seg;
          break;
        case 0x18: // delegate: ends a `try` that has no handlers, passing exceptions outward
        case 0x0b: {
          // end
          if (op === 0x18) {
            if (frameKind.top() !== Frame.Try) throw invalid('`delegate` without `try`', at);
            r.u32();
          }
          if (sinkChecks && frameKind.top() === Frame.If && openIfSink.top() >= 0) {
            // No `else`: one is added for the check, which only an `if` without results allows.
            const sink = openIfSink.top();
            if (frameVoid.top() === 1) {
              editPos.push(at);
              editKind.push(E.CHECK_ELSE);
              editArg.push(sink === 0 ? 0 : loopHeader.a[sink - 1]!);
            } else if (sink === 0) entrySink = false;
            else loopSink.a[sink - 1] = 0;
          }
          if (vFrame >= 0) {
            if (vBackEdge && vFrame === frameKind.n - 1) {
              vOps.pop();
              const m = matchCountedLoop(buf8, end, vOps, vWrites);
              if (m) {
                editArg.a[vEdit] = versions.length;
                versions.push({ ...m, loopAt: editPos.a[vEdit]!, endAt: at, headerSeg: vHeader, postSeg: this.seg });
                editPos.push(r.pos);
                editKind.push(E.VERSION_END);
                editArg.push(versions.length - 1);
              }
            }
            vFrame = -1;
          }
          const fallSeg = live ? this.seg : -1;
          const kind = frameKind.pop();
          const targeted = frameTargeted.pop() === 1;
          const openSeg = frameSeg.pop();
          const escaped = frameEscaped.pop() === 1;
          const clean = frameObs.pop() === this.observations && !escaped;
          const thenSeg = frameThen.pop();
          const elseSeg = frameElse.pop();
          const thenLive = frameThenLive.pop() === 1;
          if (kind === Frame.Loop && sinkChecks) {
            // The ifs in this loop whose else edge is the code after them: it goes round again
            // if a branch back to the loop came after their `end`.
            const back = loopBack.a[frameLoopId.top()]!;
            const base = this.loopPending.pop();
            while (pendingIfs.n > base) {
              const slot = pendingIfs.pop();
              const state = ifState.a[slot]!;
              ifState.a[slot] = (state & (IF_THEN_HOT | IF_OTHER_HOT)) | (state >>> IF_BITS !== back ? IF_OTHER_HOT : 0);
            }
          }
          if (kind !== Frame.Func) this.ev(V.END, kind === Frame.Loop ? frameLoopId.pop() : -1);
          frameVoid.pop();
          const id = frameId.pop();
          if (kind === Frame.Loop) loopAt.pop();
          else frameFallsOut.a[id] = buf8[r.pos] === 0x0b && frameKind.n > 0 && frameKind.top() === Frame.Loop ? 1 : 0;
          // Whether the code right after this `end` can be reached by falling off the end of
          // the construct's body or arms (over-approximated: "maybe" counts as yes).
          const bodyReachesEnd: boolean = live || targeted;
          live =
            kind === Frame.If || kind === Frame.Try || kind === Frame.Catch ? true
            : kind === Frame.Else ? bodyReachesEnd || thenLive
            : kind === Frame.Loop ? live
            : bodyReachesEnd;
          if (kind === Frame.Loop) segLeafLoop.a[thenSeg] = elseSeg === calls ? 1 : 0;
          if (kind === Frame.Func) {
            editPos.push(at);
            editKind.push(E.FINAL);
            editArg.push(targeted ? 1 : 0);
            finished = true;
            break;
          }
          // A block nobody branches to and a loop's end are not join points: the straight line
          // simply continues, so the current segment does too.
          // The end of a `try` joins its body and its handlers (and nothing moves across it).
          if (kind === Frame.Try || kind === Frame.Catch) {
            this.startSeg(E.SEG, r.pos);
            break;
          }
          if (kind === Frame.If || kind === Frame.Else || (kind === Frame.Block && targeted)) {
            this.startSeg(E.SEG, r.pos);
            // An `if` without `else` whose then-arm never reaches its `end` (it always branches
            // away, returns or traps): the code after the `end` is entered only by the false
            // edge, so it is the implicit else arm's first segment.
            const onlyFalseEdge = kind === Frame.If && !bodyReachesEnd;
            if (sinkChecks && kind !== Frame.Block) {
              const slot = openIf.pop();
              openIfSink.pop();
              const backThen = openIfBack.pop();
              if (slot >= 0) {
                const back = loopBack.a[frameLoopId.top()]!;
                if (bodyReachesEnd || back !== backThen) ifState.a[slot]! |= kind === Frame.If ? IF_THEN_HOT : IF_OTHER_HOT;
                if (onlyFalseEdge) {
                  ifElse.a[slot] = this.seg;
                  ifState.a[slot]! |= back << IF_BITS;
                  pendingIfs.push(slot);
                }
              }
            }
            constructs.push(openSeg);
            constructs.push(this.seg);
            constructs.push(thenSeg);
            constructs.push(onlyFalseEdge ? this.seg : elseSeg);
            constructs.push(clean && !onlyFalseEdge ? 1 : 0);
            // (A clean block's join is charged before it: hoistCharges.)
            if (kind === Frame.Block && !clean) {
              this.joins.push(id);
              this.joins.push(this.seg);
              this.joins.push(fallSeg);
              this.joins.push(frameFallsOut.a[id]!);
            }
          }
          break;
        }
        case 0x0c: {
          // br
          const d = r.u32();
          this.target(d, at);
          if (sinkChecks) this.backEdge(d, at);
          this.ev(V.BR, d);
          this.branchToBlock(d, JB_BR);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        }
        case 0x0d: {
          // br_if
          const d = r.u32();
          this.target(d, at);
          if (sinkChecks) this.backEdge(d, at);
          this.ev(V.BR_IF, d);
          if (vFrame >= 0) {
            if (d === 0 && vFrame === frameKind.n - 1) vBackEdge = true;
            else vFrame = -1;
          }
          const ti = frameKind.n - 1 - d;
          if (loopAt.n > 0 && frameKind.a[ti] !== Frame.Loop && frameVoid.a[ti] === 1) {
            editPos.push(at);
            editKind.push(E.BR_IF);
            editArg.push(brIfFrom.n);
            brIfFrom.push(this.seg);
            brIfDepth.push(d);
            brIfEnd.push(r.pos);
            brIfRefund.push(0);
            brIfNext.push(segCost.n);
            brIfLeaves.push(ti < loopAt.top() ? 1 : -1 - frameId.a[ti]!);
            this.branchToBlock(d, brIfFrom.n - 1);
          } else this.branchToBlock(d, JB_BR_IF);
          this.startSeg(E.SEG, r.pos);
          break;
        }
        case 0x0e: {
          // br_table
          const n = r.u32();
          this.ev(V.BR_TABLE, evTable.n);
          evTable.push(n + 1);
          for (let i = 0; i <= n; i++) {
            const d = r.u32();
            this.target(d, at);
            evTable.push(d);
            // A br_table edge cannot carry a check of its own: its loop keeps the header check.
            const ti = frameKind.n - 1 - d;
            this.jbHead.a[frameId.a[ti]!] = JB_TABLED;
            if (sinkChecks && frameKind.a[ti] === Frame.Loop) {
              const loop = this.loopOrdinal(ti);
              if (loopRotate.a[loop] === 1) loopRotate.a[loop] = 2;
              loopBack.a[loop]!++;
            }
          }
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        }
        case 0x0f: // return
          if (threaded) {
            this.observations++;
            this.edit(E.PUSH_FUEL, at);
          } else this.edit(E.RETURN, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        case 0x10: {
          // call
          const callee = r.u32();
          calls++;
          // The global is written before the call: if the callee traps before its own first
          // write-back, the global must hold what wasmtime's would. A threaded callee that cannot
          // trap before writing it gets the fuel in a register only; the call still counts as a
          // write for needsSaveAfterCalls (see mayTrapBeforeWrite).
          if (scanOnly || threadedFuncs[callee] !== 1 || this.writesBeforeCall(callee, ctx)) this.edit(E.SAVE, at);
          else this.observations++;
          this.ev(V.SAVE, 0);
          if (threadedFuncs[callee] === 1) {
            this.edit(E.PUSH_FUEL, at);
            if (callee === ctx.funcIndex) {
              this.selfCalls++;
              // Charged and checked as the call it is; only its target (and the twin's extra
              // argument, which costs nothing) differ.
              if (ctx.selfCalls && !scanOnly) {
                editPos.push(at);
                editKind.push(E.SELF_CALL);
                editArg.push(r.pos);
              }
            }
            this.startSeg(E.AFTER_TCALL, r.pos);
            this.ev(V.RETURNED, this.seg);
            threadedCalls++;
          } else this.startSeg(E.AFTER_CALL, r.pos);
          break;
        }
        case 0x11: // call_indirect
          r.u32();
          r.u32();
          calls++;
          this.edit(E.SAVE, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.AFTER_CALL, r.pos);
          break;
        case 0x12: {
          // return_call: a call and a return in one (wasmtime: costs 1, writes the counter back
          // first); the callee pays its own entry.
          const callee = r.u32();
          calls++;
          this.tailCallees.push(callee);
          if (threaded) {
            // The callee is threaded too (module.ts sees to it): it takes the fuel as its extra
            // argument and hands it to this function's caller as its extra result.
            if (scanOnly || threadedFuncs[callee] !== 1 || this.writesBeforeCall(callee, ctx)) this.edit(E.SAVE, at);
            else this.observations++;
            this.edit(E.PUSH_FUEL, at);
          } else this.edit(E.RETURN, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        }
        case 0x13: // return_call_indirect (only in functions that are not threaded, see module.ts)
          r.u32();
          r.u32();
          calls++;
          this.tailCallsIndirect = true;
          this.edit(E.RETURN, at);
          this.ev(V.SAVE, 0);
          this.startSeg(E.SEG, r.pos);
          live = false;
          break;
        case 0x1c: {
          // select t*
          const n = r.u32();
          r.skip(n, 'select types');
          break;
        }
        case 0x20:
        case 0x21:
        case 0x22: {
          const b = buf8[r.pos]!;
          let l: number;
          if (b < 0x80 && r.pos < end) {
            l = b;
            r.pos++;
          } else l = r.u32();
          if (vFrame >= 0 && op !== 0x20) {
            vWrites.push(l);
            vWrites.push(at);
          }
          if (renumber && l >= ctx.params) {
            if (r.pos === at + 2 && l + localShift <= 0x7f) copy[at + 1 + copyDelta] = l + localShift;
            else {
              editPos.push(at);
              editKind.push(E.LOCAL);
              editArg.push(r.pos);
            }
          }
          break;
        }
        case 0x23:
        case 0x24:
        case 0x25:
        case 0x26: // table.get / table.set
          this.ev(V.TRAP, 0);
          r.u32();
          break;
        case 0x3f:
        case 0x40: // memory.size / memory.grow
          if (r.u32() !== 0) throw unsupported('multi-memory', 'memory index', at, ctx.funcIndex);
          break;
        case 0x41: {
          // i32.const
          const v = r.s32();
          lastConst = v >= 0 ? v : -1;
          break;
        }
        case 0x42:
          r.skipLeb(10);
          break;
        case 0x43:
          r.skip(4, 'f32.const');
          break;
        case 0x44:
          r.skip(8, 'f64.const');
          break;
        case 0x0a: case 0x1f:
          throw unsupported('exception handling with exnref (Node 20 runs the legacy instructions only)', op === 0x0a ? 'throw_ref' : 'try_table', at, ctx.funcIndex);
        case 0x14: case 0x15:
          throw unsupported('typed function references', `opcode 0x${op.toString(16)}`, at, ctx.funcIndex);
        case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
        case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37:
        case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: case 0x3e:
          // loads and stores
          this.memarg(r, ctx.funcIndex);
          this.ev(V.TRAP, 0);
          break;
        default:
          if (op >= 0x45 && op <= 0xc4) {
            // Numeric operators have no immediates; division, remainder and float-to-int
            // truncation can trap.
            if ((op >= 0x6d && op <= 0x70) || (op >= 0x7f && op <= 0x82) || (op >= 0xa8 && op <= 0xab) || (op >= 0xae && op <= 0xb1)) this.ev(V.TRAP, 0);
            break;
          }
          // The operators above the numeric ones have a switch of their own: V8 compiles a switch
          // to a jump table only when its cases are dense, and the one above is run for every
          // operator (spread over 0x00-0xfe it was a chain of comparisons).
          switch (op) {
            case 0xd2: // ref.func
              r.u32();
              break;
            case 0xd0: {
              // ref.null
              const t = r.byte();
              if (t !== 0x70 && t !== 0x6f) throw unsupported('typed references / GC', 'ref.null of a typed heap type', at, ctx.funcIndex);
              break;
            }
            case 0xd1: // ref.is_null
              break;
            case 0xfc: {
              const sub = r.u32();
              let bulk = false;
              switch (sub) {
                case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
                  break;
                case 9: // data.drop
                case 13: // elem.drop
                case 16: // table.size
                  r.u32();
                  break;
                case 8: // memory.init
                case 10: // memory.copy
                case 12: // table.init
                case 14: // table.copy
                  r.u32();
                  r.u32();
                  bulk = true;
                  break;
                case 11: // memory.fill
                case 15: // table.grow
                case 17: // table.fill
                  r.u32();
                  bulk = true;
                  break;
                default:
                  throw unsupported('memory64 / later bulk proposals', `0xfc ${sub}`, at, ctx.funcIndex);
              }
              if (bulk && sub !== 15) this.ev(V.TRAP, 0); // table.grow returns -1 instead of trapping
              if (bulk) vFrame = -1;
              if (bulk) {
                if (prevConst >= 0 && prevConst <= SMALL_BULK_OP_COST) {
                  segCost.a[this.seg]! += prevConst;
                } else {
                  usesBulk = true;
                  this.edit(E.BULK_TEE, at);
                  this.observations++;
                  this.startSeg(E.AFTER_BULK, r.pos);
                }
              }
              break;
            }
            case 0xfd: {
              const sub = r.u32();
              if (sub <= 11 || sub === 92 || sub === 93) {
                this.memarg(r, ctx.funcIndex);
                this.ev(V.TRAP, 0);
              }
              else if (sub === 12 || sub === 13) r.skip(16, 'v128 immediate');
              else if (sub >= 21 && sub <= 34) r.skip(1, 'lane index');
              else if (sub >= 84 && sub <= 91) {
                this.memarg(r, ctx.funcIndex);
                r.skip(1, 'lane index');
                this.ev(V.TRAP, 0);
              } else if (sub > 0xff) throw unsupported('relaxed SIMD', `0xfd ${sub}`, at, ctx.funcIndex);
              break;
            }
            case 0xd3: case 0xd4: case 0xd5: case 0xd6:
              throw unsupported('typed function references', `opcode 0x${op.toString(16)}`, at, ctx.funcIndex);
            case 0xfb:
              throw unsupported('GC', 'opcode 0xfb', at, ctx.funcIndex);
            case 0xfe:
              throw unsupported('threads / atomics', 'opcode 0xfe', at, ctx.funcIndex);
            default:
              throw invalid(`unknown opcode 0x${op.toString(16)}`, at);
          }
      }
    }
    if (r.pos !== end && !this.stopped) throw invalid(`function ${ctx.funcIndex} has bytes after its final \`end\``, r.pos);
    if (!scanOnly) {
      // What emit() reads by segment: which loop headers rotate their check or sink it.
      this.segRotate.reset(segCost.n, 0);
      this.segSink.reset(segCost.n, 0);
      const segRotate = this.segRotate.a, segSink = this.segSink.a;
      for (let k = 0; k < loopCount; k++) {
        const h = loopHeader.a[k]!;
        segRotate[h] = loopRotate.a[k]!;
        segSink[h] = loopSink.a[k]!;
      }
      if (entrySink) segSink[0] = 1;
    }
    const walked = this.walked;
    walked.declsStart = declsStart;
    walked.localsEnd = localsEnd;
    walked.groups = groups;
    walked.fuelLocal = fuelLocal;
    walked.lenLocal = lenLocal;
    walked.usesBulk = usesBulk;
    walked.loopCount = loopCount;
    walked.threadedCalls = threadedCalls;
    return walked;
  }

  /**
   * Whether segment `seg` heads a counted loop's metered copy. (A loop here rather than a closure
   * in emit: one capturing emit's loop variable would cost an allocation per edit.)
   */
  private isVersionedHeader(seg: number): boolean {
    const versions = this.versions;
    for (let k = 0; k < versions.length; k++) if (versions[k]!.headerSeg === seg) return true;
    return false;
  }

  private emit(w: Writer, buf: Uint8Array, walked: Walked, ctx: BodyContext): number {
    const { localsEnd, groups, fuelLocal, lenLocal, usesBulk } = walked;
    const threaded = ctx.threadedFuncs[ctx.funcIndex] === 1;
    // Where the body starts in `w` (the offset map's offsets are relative to it).
    const base = w.len;
    // Locals header: original groups + ours.
    const versions = this.versions;
    const versioned = versions.length > 0;
    w.u32(groups + (usesBulk ? 1 : 0) + (threaded ? 0 : 1) + (versioned ? 1 : 0));
    w.range(buf, walked.declsStart, localsEnd);
    if (!threaded) {
      w.u32(1);
      w.byte(0x7e);
    }
    if (usesBulk) {
      w.u32(1);
      w.byte(0x7f);
    }
    // The trip count of the counted loop being entered.
    const tripLocal = lenLocal + (usesBulk ? 1 : 0);
    if (versioned) {
      w.u32(1);
      w.byte(0x7e);
    }
    const e = this.writer;
    e.begin(w, base, buf, this.offsets, ctx, fuelLocal);
    // Copied code comes from the copy of the body rewrite() made (local accesses renumbered).
    e.copyFrom(this.copyDelta);
    this.offsets?.beginBody();
    e.insertedBefore(localsEnd);

    const editPos = this.editPos.a, editKind = this.editKind.a, editArg = this.editArg.a;
    const segCost = this.segCost.a, segDepth = this.segDepth.a, segLeafLoop = this.segLeafLoop.a, segRotate = this.segRotate.a;
    const segSink = this.segSink.a;
    const n = this.editPos.n;
    // Branches to the function's own label skip the final write-back; they get a block to land
    // in, right before it.
    const wrapBody = editKind[n - 1] === E.FINAL && editArg[n - 1] === 1;
    // The check at the header of a loop that makes no calls (inner loops included) branches out
    // to one shared out-of-fuel landing after the body instead of calling bext_out_of_fuel in
    // place: V8's TurboFan only unrolls and peels loops without calls, and an in-place call, even
    // one never taken, counts. Loops that call anything keep the in-place call, which measured
    // faster for them.
    let landing = false;
    for (let i = 0; i < n && !landing; i++) landing = editKind[i] === E.LOOP && segLeafLoop[editArg[i]!] === 1;
    // Whether segment s's check (the entry's, or a calling loop header's) stands in the arms of
    // an `if` (E.CHECK_ARM); a call-free loop keeps its own form of check (rotated, or at its header).
    const armChecked = (s: number): boolean => segSink[s] === 1 && (s === 0 || segLeafLoop[s] !== 1);
    // Whether that check's then-arm copy is fused into the `if`'s condition (E.CHECK_FUSED): a
    // loop's always, the entry's only when a loop's is. On AMD Zen 5, fusing both took ackermann
    // from 1.30 to 1.20 metered / plain, either one alone gained nothing, and fusing the entry
    // check of a function whose loop has none (recursive fib, whose data-dependent branch then
    // waits for the fuel) cost 10%.
    let loopFused = false;
    for (let i = 0; i < n && !loopFused; i++) loopFused = editKind[i] === E.CHECK_FUSED && editArg[i] !== 0 && armChecked(editArg[i]!);
    const fused = (s: number): boolean => armChecked(s) && (s !== 0 || loopFused);
    const G = ctx.fuelGlobal;
    const OOF = ctx.outOfFuelFunc;
    const L = fuelLocal;
    e.setWrapped(wrapBody);

    if (landing) {
      w.byte(0x02);
      w.byte(0x40);
    }
    let copied = localsEnd;
    for (let i = 0; i < n; i++) {
      const pos = editPos[i]!;
      if (pos > copied) {
        e.copy(copied, pos);
        copied = pos;
      }
      const kind = editKind[i]!;
      // A renumbered local access maps itself (see shiftedLocalOp).
      if (kind !== E.LOCAL) e.insertedBefore(pos);
      const noSeg = kind === E.LOCAL || kind === E.BR_IF || kind === E.VERSION || kind === E.VERSION_END || kind === E.SELF_CALL || kind === E.BACK_EDGE
        || kind === E.CHECK_ARM || kind === E.CHECK_ELSE || kind === E.CHECK_FUSED || kind === E.CHECK_THEN;
      const c = noSeg ? 0 : segCost[editArg[i]!] ?? 0;
      switch (kind) {
        case E.ENTRY: {
          e.report(0);
          if (threaded) {
            w.byte(0x20);
            w.u32(L);
          } else {
            w.byte(0x23);
            w.u32(G);
          }
          w.byte(0x42);
          w.sNum(FUNCTION_ENTRY_COST + c);
          w.byte(0x7d); // i64.sub
          if (segSink[0] === 1) {
            w.byte(0x21);
            w.u32(L);
          } else {
            w.byte(0x22);
            w.u32(L);
            e.check(c, ctx.selfCalls?.twin === true);
          }
          if (wrapBody) {
            w.byte(0x02);
            w.bytes(ctx.resultBlockType);
          }
          break;
        }
        case E.SEG:
          e.charge(c);
          break;
        case E.AFTER_CALL:
          w.byte(0x23);
          w.u32(G);
          e.minus(c);
          w.byte(0x21);
          w.u32(L);
          break;
        case E.LOOP: {
          const h = editArg[i]!;
          // The metered copy of a counted loop sits in an `else`, one level deeper.
          const versioned = this.isVersionedHeader(h) ? 1 : 0;
          const rotated = segRotate[h] === 1 && segLeafLoop[h] === 1;
          if (segRotate[h] !== 0) {
            // This edit sits before the `loop` opcode (and its one-byte block type). Control
            // reaches a loop's header only from here and by branches back to it, with nothing
            // in between, so a call-free loop's check can be made here and on each of those
            // branches (E.BACK_EDGE) instead: the fuel is the header's, so is every outcome; but
            // a check at the bottom of an iteration costs far less on some processors than one
            // at the top, ahead of the iteration's own branches (the sieve: 1.31 -> 1.15).
            if (rotated) e.checkToLanding(segDepth[h]! - 1 + versioned);
            e.copy(pos, pos + 2);
            copied = pos + 2;
          }
          if (segLeafLoop[h] === 1) {
            if (!rotated) e.checkToLanding(segDepth[h]! + versioned);
            e.charge(c);
            break;
          }
          if (segSink[h] === 1) {
            // Checked in the arms of the `if` that ends this segment (E.CHECK_ARM).
            e.charge(c);
            break;
          }
          w.byte(0x20);
          w.u32(L);
          if (c !== 0) {
            w.byte(0x42);
            w.sNum(c);
            w.byte(0x7d);
            w.byte(0x22);
            w.u32(L);
          }
          e.check(c, ctx.selfCalls?.twin === true);
          break;
        }
        case E.CHECK_THEN:
        case E.CHECK_ARM:
        case E.CHECK_ELSE: {
          // The entry's or a loop header's check, where an arm starts (before the arm's charge:
          // the fuel is what it was right after that segment's charge).
          const s = editArg[i]!;
          if (!armChecked(s) || (kind === E.CHECK_THEN && fused(s))) break;
          if (kind === E.CHECK_ELSE) w.byte(0x05);
          w.byte(0x20);
          w.u32(L);
          e.check(segCost[s]!, ctx.selfCalls?.twin === true);
          break;
        }
        case E.CHECK_FUSED: {
          // The then-arm's copy of that check, folded into the `if`'s own condition: the arm is
          // taken only when the condition holds and the fuel passes; otherwise control goes to the
          // else arm, whose check fails when the condition held. The hot path then has one branch
          // where it had two (ackermann 1.30 -> 1.20 metered / plain on AMD Zen 5, 1.20 -> 1.17 on
          // an Intel Xeon).
          const s = editArg[i]!;
          if (fused(s)) e.fuseCheck(segCost[s]!);
          break;
        }
        case E.BACK_EDGE: {
          const h = editArg[i]!;
          if (segLeafLoop[h] !== 1 || segRotate[h] !== 1) break;
          // The branch's depth, read again; the frames open at it are the loop's and that many.
          const r = this.readerOver(buf, pos + 1, buf.length);
          const d = r.u32();
          const frames = segDepth[h]! + d + (this.isVersionedHeader(h) ? 1 : 0);
          if (buf[pos] === 0x0c) {
            // br d  ->  check  br d
            e.checkToLanding(frames);
            break;
          }
          // br_if d  ->  if  check  br d+1  end
          w.byte(0x04);
          w.byte(0x40);
          e.checkToLanding(frames + 1);
          w.byte(0x0c);
          w.u32(d + 1);
          w.byte(0x0b);
          copied = r.pos;
          break;
        }
        case E.SAVE:
          e.save();
          break;
        case E.RETURN:
          e.save();
          e.report(1);
          break;
        case E.BULK_TEE:
          w.byte(0x22);
          w.u32(lenLocal);
          break;
        case E.AFTER_BULK:
          w.byte(0x20);
          w.u32(L);
          w.byte(0x20);
          w.u32(lenLocal);
          w.byte(0xad); // i64.extend_i32_u
          w.byte(0x7d);
          e.minus(c);
          w.byte(0x22);
          w.u32(L);
          e.check(c);
          break;
        case E.FINAL:
          if (editArg[i] === 1) w.byte(0x0b);
          if (threaded) {
            w.byte(0x20);
            w.u32(L);
          } else {
            e.save();
            e.report(1);
          }
          break;
        case E.PUSH_FUEL:
          w.byte(0x20);
          w.u32(L);
          break;
        case E.AFTER_TCALL:
          // The callee's fuel is on the stack. Where something may trap before the global is next
          // written, write it now, as the callee's exit would have (see needsSaveAfterCalls).
          if (this.saveAfter.a[editArg[i]!] === 1) {
            w.byte(0x22);
            w.u32(L);
            w.byte(0x24);
            w.u32(G);
            e.charge(c);
          } else {
            e.minus(c);
            w.byte(0x21);
            w.u32(L);
          }
          break;
        case E.BR_IF: {
          const k = editArg[i]!;
          const refund = this.brIfRefund.a[k]!;
          if (refund === 0) break;
          // br_if d  ->  if  L += refund  br d+1  end
          w.byte(0x04);
          w.byte(0x40);
          w.byte(0x20);
          w.u32(L);
          w.byte(0x42);
          w.sNum(refund);
          w.byte(0x7c);
          w.byte(0x21);
          w.u32(L);
          w.byte(0x0c);
          w.u32(this.brIfDepth.a[k]! + 1);
          w.byte(0x0b);
          copied = this.brIfEnd.a[k]!;
          break;
        }
        case E.VERSION: {
          const v = versions[editArg[i]!];
          if (!v) break;
          // if (trip count known and fuel covers every header) { unmetered loop; charge all }
          // else { the metered loop } -- the `else` arm is what follows in the edit stream.
          const cost = segCost[v.headerSeg]!;
          emitTripCountGuard(w, v, e.guestLocalFn, L, tripLocal, cost);
          w.byte(0x04);
          w.byte(0x40);
          let from = v.loopAt;
          for (let j = i + 1; j < n && editPos[j]! <= v.endAt; j++) {
            if (editKind[j] !== E.LOCAL) continue;
            e.copy(from, editPos[j]!);
            from = e.shiftedLocalOp(editPos[j]!, editArg[j]!);
          }
          e.copy(from, v.endAt + 1);
          e.insertedBefore(v.loopAt);
          w.byte(0x20);
          w.u32(L);
          w.byte(0x20);
          w.u32(tripLocal);
          w.byte(0x42);
          w.sNum(cost);
          w.byte(0x7e); // i64.mul
          w.byte(0x7d);
          e.minus(segCost[v.postSeg]!);
          w.byte(0x21);
          w.u32(L);
          w.byte(0x05); // else
          break;
        }
        case E.VERSION_END:
          w.byte(0x0b);
          break;
        case E.LOCAL:
          copied = e.shiftedLocalOp(pos, editArg[i]!);
          break;
        case E.SELF_CALL: {
          // The fuel is on the stack already (E.PUSH_FUEL). The original passes the twin its
          // extra param; neither operator is the guest's, so neither is charged.
          const self = ctx.selfCalls!;
          if (!self.twin) {
            w.byte(0x42);
            w.byte(0x00);
          }
          w.byte(0x10);
          w.u32(self.target);
          copied = editArg[i]!;
          break;
        }
      }
    }
    if (landing) {
      // The body's results are on the stack: return them, then the landing.
      w.byte(0x0f);
      w.byte(0x0b);
      w.byte(0x20);
      w.u32(L);
      w.byte(0x10);
      w.u32(OOF);
      w.byte(0x00);
    }
    // Only the final `end` remains (the last edit sits right before it).
    w.byte(0x0b);
    return w.len - base;
  }
}
