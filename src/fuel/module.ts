/**
 * Module-level rewrite: adds the `bext_fuel` global + export, the `bext_out_of_fuel` function (and
 * `bext_start` when there is a start function), rewrites every function body, applies the memory
 * cap to the memory section, and keeps everything else byte for byte. New items are appended at the
 * end of their index spaces, so no function, global or type index moves and the name section stays
 * valid. Functions only the guest can call change type (fuel as an extra param and result); their
 * local names are renumbered. With the `twins` option, such a function that calls itself gets a
 * twin, appended last (see twins.ts).
 */
import { Reader, Writer, WasmFormatError, hasWasmMagic, invalid, parseModule, truncated, u32Size, SECTION, type Limits, type ParsedModule } from '../wasm/index.js';
import { BodyRewriter, WRITE_UNKNOWN, type BodyContext, type ProfileHooks } from './body.js';
import { FUEL_GLOBAL, OUT_OF_FUEL_NAME, PROFILE_FLAG, PROFILE_TABLE, START_WRAPPER_NAME } from './contract.js';
import { FUNCTION_ENTRY_COST, START_CALL_OVERHEAD } from './costs.js';
import { rewriteNameSection, type NewName } from './names.js';
import { OffsetMapBuilder, type OffsetMap } from './offset-map.js';
import { MAX_TWIN_BODY_BYTES, V8_MAX_FUNCTIONS, twinType, type Twin } from './twins.js';

const SEC_CUSTOM = SECTION.custom, SEC_TYPE = SECTION.type, SEC_FUNCTION = SECTION.function,
  SEC_TABLE = SECTION.table, SEC_MEMORY = SECTION.memory, SEC_GLOBAL = SECTION.global, SEC_EXPORT = SECTION.export,
  SEC_START = SECTION.start, SEC_ELEMENT = SECTION.element, SEC_CODE = SECTION.code;

/** Position of each known section in the required order. */
const RANK: Record<number, number> = {
  [SECTION.type]: 1, [SECTION.import]: 2, [SECTION.function]: 3, [SECTION.table]: 4, [SECTION.memory]: 5,
  [SECTION.tag]: 6, [SECTION.global]: 7, [SECTION.export]: 8, [SECTION.start]: 9, [SECTION.element]: 10,
  [SECTION.dataCount]: 11, [SECTION.code]: 12, [SECTION.data]: 13,
};

interface Section {
  id: number;
  /** Payload range in the input. */
  start: number;
  end: number;
  /** Custom section name (id 0). */
  name?: string;
}

interface FuncType {
  params: number;
  /** Encoded result value types. */
  results: Uint8Array;
  /** Encoded whole type entry (0x60 params results). */
  raw: Uint8Array;
}

export interface InstrumentOptions {
  /** Initial value of `bext_fuel` (meters start functions). Default 0. */
  initialFuel?: bigint;
  /** Called with 0..1 while functions are rewritten (synchronously). */
  onProgress?: (fraction: number) => void;
  /**
   * Merge charges across segments where that is exact (default true). Turning it off gives the
   * plain one-charge-per-segment rewrite, which tests use as a reference for fuel counts.
   */
  moveCharges?: boolean;
  /**
   * Pass the fuel to internal functions as an extra param and result instead of through the
   * global (default true). Off, every function reads and writes the global; tests use that as a
   * reference.
   */
  threadFuel?: boolean;
  /**
   * Cap every memory the module defines at this many 64 KiB pages: the memory section declares
   * `max = min(max, cap)` (V8 refuses memory.grow past a declared maximum). A memory whose minimum
   * is above the cap is refused. Unset: memories are kept as they are.
   */
  maxMemoryPages?: number;
  /** The input's module info when the caller parsed it already (saves parsing it again). */
  module?: ParsedModule;
  /**
   * The caller has checked the input with `WebAssembly.validate` already (the loader does, on
   * every load, cached or not): it is not validated a second time (V8 takes most of a second
   * over 50 MB).
   */
  inputValidated?: boolean;
  /**
   * Validate the output (default true): a module the rewrite broke then throws InstrumenterBug
   * here. The loader passes false because it compiles the output at once, which validates it
   * again; should V8 refuse it, the loader instruments anew with this on (runtime/index.ts).
   */
  checkOutput?: boolean;
  /**
   * Build the profiling variant (docs/fuel.md, "Profiling builds"): the same fuel, plus a report
   * to the host at every function entry and exit. Implies `threadFuel: false`. Default false; a
   * normal build is byte for byte what it is without this option.
   */
  profile?: boolean;
  /**
   * Give every self-recursive threaded function a twin (twins.ts). Default false: on processors
   * whose return prediction relies on a recursion returning to one call site (AMD Zen 5), the
   * alternation costs 1.3-2.3x on any recursion deeper than ~40 levels, while what it removes (a
   * cache-line effect at one stack offset in four, seen on Zen 3) needs thousands of levels.
   * docs/fuel.md, "Deep recursion", has the measurements.
   */
  twins?: boolean;
}

/** What rewriteModule needs: the options, with the start fuel decided. */
export type RewriteOptions = Omit<InstrumentOptions, 'initialFuel'> & { initialFuel: bigint };

function unsupported(what: string): WasmFormatError {
  return new WasmFormatError(
    'unsupported',
    `unsupported feature: ${what}; bext runs the features Node 20 runs: multi-value, bulk memory, sign-ext, non-trapping float-to-int, mutable globals, reference types, SIMD, tail calls, exception handling (legacy)`,
  );
}

function checkLimits(l: Limits, what: string): void {
  if (l.shared) throw unsupported(`threads (shared ${what})`);
  if (l.index64) throw unsupported(`memory64 (64-bit ${what})`);
}

/**
 * What the module info does not refuse but the rewrite cannot keep exact: section order it relies
 * on, threads, memory64, and a module that was instrumented already.
 */
function checkInstrumentable(info: ParsedModule): void {
  let lastRank = 0;
  for (const s of info.sections) {
    if (s.id === SEC_CUSTOM) continue;
    const rank = RANK[s.id]!;
    if (rank <= lastRank) throw invalid(`section ${s.id} is out of order or repeated`);
    lastRank = rank;
  }
  for (const i of info.imports) {
    if (i.kind === 'table') checkLimits(i.limits, 'table');
    if (i.kind === 'memory') checkLimits(i.limits, 'memory');
  }
  for (const t of info.tables) checkLimits(t, 'table');
  for (const m of info.memories) checkLimits(m, 'memory');
  for (const e of info.exports) {
    if (e.name === FUEL_GLOBAL) {
      throw new WasmFormatError('invalid', `invalid input: the module already exports \`${FUEL_GLOBAL}\` (was it instrumented already? give bext the original module)`);
    }
  }
}

function funcTypesOf(info: ParsedModule): FuncType[] {
  return info.typeEntries.map((raw) => {
    const r = new Reader(raw, 1);
    const params = r.u32();
    r.pos += params;
    return { params, results: raw.subarray(r.pos), raw };
  });
}

/** The memory section with every maximum lowered to `cap` pages (V8 enforces a declared maximum). */
function cappedMemories(memories: readonly Limits[], cap: number): Uint8Array {
  const w = new Writer(8 + memories.length * 12);
  w.u32(memories.length);
  for (const m of memories) {
    if (m.min > cap) throw invalid(`memory declares a minimum of ${m.min} pages, above the cap of ${cap} pages`);
    const max = m.max === null ? cap : Math.min(m.max, cap);
    w.byte(0x01);
    w.u32(m.min);
    w.u32(max);
  }
  return w.result();
}

/** Skips a constant expression, marking any `ref.func` target in `reached`. */
function skipConstExpr(r: Reader, reached: Uint8Array): void {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0x41:
        r.s32();
        break;
      case 0x42:
        r.skipLeb(10);
        break;
      case 0x43:
        r.skip(4, 'f32.const');
        break;
      case 0x44:
        r.skip(8, 'f64.const');
        break;
      case 0x23:
        r.u32();
        break;
      case 0xd0:
        r.byte();
        break;
      case 0xd2: {
        const f = r.u32();
        if (f < reached.length) reached[f] = 1;
        break;
      }
      case 0xfd:
        if (r.u32() !== 12) throw invalid('unexpected SIMD operator in a constant expression');
        r.skip(16, 'v128.const');
        break;
      default:
        // Extended constant expressions (i32.add and friends) have no immediates.
        if (op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e) break;
        throw invalid(`unexpected operator 0x${op.toString(16)} in a constant expression`);
    }
  }
}

/** Marks in `reached` every function an element segment or a global initialiser refers to. */
function markReferencedFunctions(buf: Uint8Array, elemSec: Section | undefined, globalSec: Section | undefined, reached: Uint8Array): void {
  if (globalSec) {
    const r = new Reader(buf, globalSec.start, globalSec.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      r.byte();
      r.byte();
      skipConstExpr(r, reached);
    }
  }
  if (!elemSec) return;
  const r = new Reader(buf, elemSec.start, elemSec.end);
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    const flags = r.u32();
    if (flags > 7) throw invalid(`unknown element segment flags ${flags}`);
    if (flags === 2 || flags === 6) r.u32(); // table index
    if ((flags & 1) === 0) skipConstExpr(r, reached); // active: offset
    if (flags & 3) r.byte(); // element kind or reference type
    const count = r.u32();
    for (let j = 0; j < count; j++) {
      if (flags & 4) skipConstExpr(r, reached);
      else {
        const f = r.u32();
        if (f < reached.length) reached[f] = 1;
      }
    }
  }
}

/** `(params) -> (results)` becomes `(params i64) -> (results i64)`. */
function threadedType(raw: Uint8Array): Uint8Array {
  const r = new Reader(raw, 1);
  const np = r.u32();
  const params = raw.subarray(r.pos, r.pos + np);
  r.pos += np;
  const nr = r.u32();
  const results = raw.subarray(r.pos, r.pos + nr);
  const w = new Writer(raw.length + 8);
  w.byte(0x60);
  w.u32(np + 1);
  w.bytes(params);
  w.byte(0x7e);
  w.u32(nr + 1);
  w.bytes(results);
  w.byte(0x7e);
  return w.result().slice();
}

function vecCount(buf: Uint8Array, s: Section | undefined): number {
  if (!s) return 0;
  return new Reader(buf, s.start, s.end).u32();
}

/** Rebuilds a vector section with `extra` entries appended. */
function appendToVec(buf: Uint8Array, s: Section | undefined, extra: Uint8Array[]): Uint8Array {
  const w = new Writer(64 + (s ? s.end - s.start : 0));
  const r = s ? new Reader(buf, s.start, s.end) : undefined;
  const n = r ? r.u32() : 0;
  w.u32(n + extra.length);
  if (s && r) w.bytes(buf.subarray(r.pos, s.end));
  for (const e of extra) w.bytes(e);
  return w.result();
}

function isDroppedCustom(name: string): boolean {
  // Byte offsets in DWARF and source maps point into the original code section; after the
  // rewrite they would lie, so they go (the name section is kept and rewritten).
  return name.startsWith('.debug_') || name === 'sourceMappingURL' || name === 'external_debug_info';
}

export interface Rewritten {
  bytes: Uint8Array;
  /** Code offsets of `bytes` back to the input's (see offset-map.ts). */
  offsets: OffsetMap;
}

export function rewriteModule(buf: Uint8Array, opts: RewriteOptions): Rewritten {
  if (!opts.module && !hasWasmMagic(buf)) {
    throw new WasmFormatError('not_wasm', 'not a WebAssembly module (it does not start with the \\0asm magic bytes)');
  }
  const info = opts.module ?? parseModule(buf, { allowMemory64: true });
  checkInstrumentable(info);
  const sections: Section[] = info.sections.map((s) => ({ id: s.id, start: s.contentStart, end: s.end, name: s.name }));
  const find = (id: number): Section | undefined => sections.find((s) => s.id === id);
  const typeSec = find(SEC_TYPE);
  const types = funcTypesOf(info);
  const imports = { funcs: info.importedFunctions, globals: info.importedGlobals };
  const codeSec = find(SEC_CODE);
  const globalSec = find(SEC_GLOBAL);
  const exportSec = find(SEC_EXPORT);
  const startSec = find(SEC_START);
  const memorySec = find(SEC_MEMORY);
  const tableSec = find(SEC_TABLE);
  const profiling = opts.profile === true;

  // Defined functions' type indices.
  // Typed: a module may define a million functions.
  const funcTypeIdx = new Uint32Array(info.functionTypes.length - info.importedFunctions);
  for (let i = 0; i < funcTypeIdx.length; i++) funcTypeIdx[i] = info.functionTypes[info.importedFunctions + i]!;
  const definedCount = funcTypeIdx.length;
  const codeCount = vecCount(buf, codeSec);
  if (codeCount !== definedCount) throw invalid(`function section declares ${definedCount} functions but the code section has ${codeCount}`);
  const totalFuncs = imports.funcs + definedCount;
  // Functions the host or a table can reach keep their signature; every other defined function
  // is "threaded": it takes the fuel as an extra i64 param and returns it as an extra result, so
  // the counter stays in registers across calls instead of going through the global.
  const reached = new Uint8Array(totalFuncs);
  for (const e of info.exports) if (e.kind === 'function' && e.index < totalFuncs) reached[e.index] = 1;
  markReferencedFunctions(buf, find(SEC_ELEMENT), globalSec, reached);

  // New types, appended when no identical one exists.
  const newTypes: Uint8Array[] = [];
  const typeKey = (raw: Uint8Array): string => String.fromCharCode.apply(null, raw as unknown as number[]);
  const typeIndex = new Map<string, number>();
  for (let i = types.length - 1; i >= 0; i--) typeIndex.set(typeKey(types[i]!.raw), i);
  const typeIndexFor = (raw: Uint8Array): number => {
    const key = typeKey(raw);
    let i = typeIndex.get(key);
    if (i === undefined) {
      newTypes.push(raw);
      i = types.length + newTypes.length - 1;
      typeIndex.set(key, i);
    }
    return i;
  };
  const oofType = typeIndexFor(Uint8Array.of(0x60, 1, 0x7e, 0));
  const hasStart = startSec !== undefined;
  const voidType = hasStart ? typeIndexFor(Uint8Array.of(0x60, 0, 0)) : -1;
  // Profiling build (profile.ts): a table for the host's enter/exit functions and a flag global,
  // both appended to their index spaces, so nothing the guest refers to moves.
  const profileHooks: ProfileHooks | undefined = profiling
    ? {
        typeIndex: typeIndexFor(Uint8Array.of(0x60, 2, 0x7f, 0x7c, 0)),
        table: info.imports.filter((i) => i.kind === 'table').length + info.tables.length,
        flagGlobal: imports.globals + info.definedGlobals + 1,
      }
    : undefined;

  const fuelGlobal = imports.globals + info.definedGlobals;
  const oofFunc = imports.funcs + definedCount;
  const startWrapper = oofFunc + 1;
  // Twins of self-recursive threaded functions follow bext's own functions (twins.ts).
  const firstTwin = oofFunc + (hasStart ? 2 : 1);
  let twins: Twin[] = [];
  const twinTypeOf = new Map<number, number>();
  /** Bytes the code section's function count grew by when twins were added (see rewriteCode). */
  let countGrew = 0;
  const originalStart = info.start ?? -1;
  if (originalStart >= 0 && originalStart < totalFuncs) reached[originalStart] = 1;
  const threadedFuncs = new Uint8Array(totalFuncs);
  const writeBeforeCall = new Uint8Array(totalFuncs).fill(1);
  const definedTypes = funcTypeIdx.slice();
  // By type index, -1 until made (an array: asked once per function).
  const threadedTypeOf = new Int32Array(types.length).fill(-1);
  // The profiling build reads the true counter at every entry and exit, so nothing is threaded.
  if ((opts.threadFuel ?? true) && !profiling) {
    for (let i = 0; i < definedCount; i++) {
      if (reached[imports.funcs + i] === 1) continue;
      threadedFuncs[imports.funcs + i] = 1;
      const ti = funcTypeIdx[i]!;
      let nt = threadedTypeOf[ti]!;
      if (nt < 0) {
        nt = typeIndexFor(threadedType(types[ti]!.raw));
        threadedTypeOf[ti] = nt;
      }
      definedTypes[i] = nt;
    }
  }
  // A tail call hands the callee's results straight to the caller's caller, so caller and callee
  // must agree on the extra fuel result: set once the tail calls have been looked at (below).
  let tailCallsSettled = !threadedFuncs.includes(1);

  // Result block types per type index (for the landing block of function-level branches).
  // By type index (an array: asked once per function).
  const blockTypeCache: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(types.length).fill(undefined);
  const resultBlockType = (ti: number): Uint8Array => {
    let bt = blockTypeCache[ti];
    if (bt) return bt;
    const t = types[ti]!;
    const nres = t.results[0]!;
    if (nres === 0) bt = Uint8Array.of(0x40);
    else if (nres === 1) bt = Uint8Array.of(t.results[1]!);
    else {
      const raw = new Uint8Array(2 + t.results.length);
      raw[0] = 0x60;
      raw[1] = 0;
      raw.set(t.results, 2);
      const w = new Writer(8);
      w.u32(typeIndexFor(raw));
      bt = w.result().slice();
    }
    blockTypeCache[ti] = bt;
    return bt;
  };

  // The output is built in one buffer. The code section, nearly all of it for most modules, is
  // rewritten first, straight into that buffer at `codeFrom`, past room left for the sections
  // before it (which depend on what the rewrite found: new types); those are written once the
  // code is done, and the code slides to meet them (see assemble). The capacity allows the code
  // to double: pages of a big buffer that are never written take no memory, while growing it
  // would hold two copies at once. Bodies that outgrow even that extend it, once, to a size
  // extrapolated from the progress.
  const codeInput = codeSec ? codeSec.end - codeSec.start : 0;
  const headInput = codeSec ? info.sections.find((x) => x.id === SEC_CODE)!.start : buf.length;
  const codeFrom = headInput + 1024 + 2 * (types.length * 8 + definedCount);
  const tailInput = buf.length - (codeSec ? codeSec.end : buf.length);
  const out = new Writer(codeFrom + codeInput * 2 + tailInput + 4096);

  // Code section. Rewritten a second time, after unthreading, when a tail call turns up before
  // the tail calls were settled (modules without tail calls are rewritten once, as before).
  let offsets = rewriteCode();
  while (!offsets) {
    settleTailCalls();
    offsets = rewriteCode();
  }

  /** Room for `n` more code bytes, `done` of the input's code having been read. */
  function roomFor(n: number, done: number): void {
    if (out.len + n <= out.buf.length) return;
    const written = out.len - codeFrom;
    const expected = Math.ceil((written / Math.max(1, done)) * codeInput * 1.1);
    out.reserve(Math.max(out.len + n, codeFrom + expected) + tailInput + 4096);
  }

  /**
   * Appends the body at `buf[start, end)`, rewritten, with its size before it, and places its
   * offsets; `done` is how much of the input's code has been read (for roomFor). The rewriter
   * writes a copy of the input body and then the body (see BodyRewriter.rewrite); the body then
   * moves down over the copy, to just after its size (in place).
   */
  function writeBody(rw: BodyRewriter, start: number, end: number, ctx: BodyContext, done: number): void {
    // Room for the copy and the body before writing them: metering grows a body made only of
    // calls about 3.7×, typical code far less (one that grows more still fits: the writer then
    // grows itself).
    roomFor(5 * (end - start) + 64, done);
    const at = out.len;
    const len = rw.rewrite(out, buf, start, end, ctx);
    const bodyAt = out.len - len;
    const sizeLen = u32Size(len);
    // (The copy is never shorter than the size's bytes in practice; should it be, the body moves up.)
    out.reserve(at + sizeLen + len);
    out.buf.copyWithin(at + sizeLen, bodyAt, bodyAt + len);
    out.len = at;
    out.u32(len);
    out.len = at + sizeLen + len;
    rw.offsets!.placeBody(at + sizeLen - codeFrom);
  }

  function rewriteCode(): OffsetMapBuilder | undefined {
    out.len = codeFrom;
    twins = [];
    countGrew = 0;
    const ownCount = definedCount + (hasStart ? 2 : 1);
    out.u32(ownCount);
    const offsets = new OffsetMapBuilder();
    const rw = new BodyRewriter(opts.moveCharges ?? true);
    let resolveWrite: BodyContext['resolveWriteBeforeCall'];
    rw.offsets = offsets;
    if (codeSec) {
      const r = new Reader(buf, codeSec.start, codeSec.end);
      r.u32();
      // One context, refilled for each body (a module may have hundreds of thousands).
      const ctx: BodyContext = {
        fuelGlobal,
        outOfFuelFunc: oofFunc,
        params: 0,
        resultBlockType: new Uint8Array(0),
        funcIndex: 0,
        threadedFuncs,
        writeBeforeCall,
        profile: profileHooks,
        selfCalls: undefined,
      };
      const toTwin = { target: 0, twin: false };
      const ctxFor = (i: number): BodyContext => {
        const ti = funcTypeIdx[i]!;
        ctx.params = types[ti]!.params;
        ctx.resultBlockType = resultBlockType(ti);
        ctx.funcIndex = imports.funcs + i;
        ctx.selfCalls = undefined;
        return ctx;
      };
      // Which threaded functions may trap before writing the global themselves: calls to the
      // others skip the write (BodyRewriter.mayTrapBeforeWrite). Found when first needed: the
      // rewrite of a body answers it for its own function (from the events it recorded anyway),
      // and a call to a function not rewritten yet has that function's body read for it there,
      // by a rewriter of its own (this one is in the middle of the caller's body). So a module
      // whose functions call only functions before them is read once, and a function nothing
      // calls directly is never read for it.
      const lazy = (opts.moveCharges ?? true) && threadedFuncs.includes(1);
      writeBeforeCall.fill(lazy ? WRITE_UNKNOWN : 1);
      if (lazy) {
        // Where each body's size is, made at the first call to a function not rewritten yet (a
        // module whose calls all go backwards never needs it).
        let sizeAt: Uint32Array | undefined;
        const indexBodies = (): Uint32Array => {
          const at = new Uint32Array(definedCount);
          const ir = new Reader(buf, codeSec.start, codeSec.end);
          ir.u32();
          for (let i = 0; i < definedCount; i++) {
            at[i] = ir.pos;
            const size = ir.u32();
            if (ir.pos + size > codeSec.end) throw truncated(`function ${imports.funcs + i} body`, ir.pos);
            ir.pos += size;
          }
          return at;
        };
        const probe = new BodyRewriter(true);
        const probeCtx: BodyContext = { ...ctx };
        const pr = new Reader(buf, codeSec.start, codeSec.end);
        resolveWrite = (f: number): number => {
          const i = f - imports.funcs;
          sizeAt ??= indexBodies();
          pr.pos = sizeAt[i]!;
          const size = pr.u32();
          const ti = funcTypeIdx[i]!;
          probeCtx.params = types[ti]!.params;
          probeCtx.resultBlockType = resultBlockType(ti);
          probeCtx.funcIndex = f;
          const v = probe.mayTrapBeforeWrite(buf, pr.pos, pr.pos + size, probeCtx) ? 1 : 0;
          writeBeforeCall[f] = v;
          return v;
        };
        ctx.resolveWriteBeforeCall = resolveWrite;
      }
      const step = Math.max(1, Math.floor(definedCount / 100));
      for (let i = 0; i < definedCount; i++) {
        const size = r.u32();
        const start = r.pos;
        if (start + size > codeSec.end) throw truncated(`function ${imports.funcs + i} body`, start);
        const ctx = ctxFor(i);
        // With the twins option, a threaded function's calls to itself go to the twin it will get
        // (nothing in the body changes when it gets none).
        const twinIndex = firstTwin + twins.length;
        const mayTwin = opts.twins === true && threadedFuncs[imports.funcs + i] === 1 && size <= MAX_TWIN_BODY_BYTES && twinIndex < V8_MAX_FUNCTIONS;
        if (mayTwin) {
          toTwin.target = twinIndex;
          ctx.selfCalls = toTwin;
        }
        writeBody(rw, start, start + size, ctx, start + size - codeSec.start);
        if (lazy && threadedFuncs[imports.funcs + i] === 1 && writeBeforeCall[imports.funcs + i] === WRITE_UNKNOWN) {
          writeBeforeCall[imports.funcs + i] = rw.lastMayTrapBeforeWrite() ? 1 : 0;
        }
        if (!tailCallsSettled && (rw.tailCallees.length > 0 || rw.tailCallsIndirect)) return undefined;
        if (mayTwin && rw.selfCalls > 0) twins.push({ func: imports.funcs + i, defined: i, start, end: start + size, index: twinIndex });
        r.pos = start + size;
        if (opts.onProgress && i % step === 0) opts.onProgress(i / definedCount);
      }
      if (r.pos !== codeSec.end) throw invalid('code section has trailing bytes');
    }
    offsets.end(out.len - codeFrom);
    const oofBody = sizedBody(outOfFuelBody(fuelGlobal));
    const startBody = hasStart ? sizedBody(startWrapperBody(fuelGlobal, oofFunc, originalStart)) : undefined;
    roomFor(oofBody.length + (startBody?.length ?? 0), codeInput);
    out.bytes(oofBody);
    if (startBody) out.bytes(startBody);
    if (twins.length === 0) return offsets;
    // Each twin: the original's body rewritten again, its self-calls going back to the original.
    for (const t of twins) {
      const ti = funcTypeIdx[t.defined]!;
      const ctx: BodyContext = {
        fuelGlobal,
        outOfFuelFunc: oofFunc,
        params: types[ti]!.params,
        resultBlockType: resultBlockType(ti),
        funcIndex: t.func,
        threadedFuncs,
        writeBeforeCall,
        resolveWriteBeforeCall: resolveWrite,
        selfCalls: { target: t.func, twin: true },
      };
      writeBody(rw, t.start, t.end, ctx, codeInput);
    }
    offsets.end(out.len - codeFrom);
    // The function count at the head of the code section now includes the twins; when its LEB128
    // takes more bytes, the bodies move up to make room (and so do the offsets recorded for them).
    const count = ownCount + twins.length;
    countGrew = u32Size(count) - u32Size(ownCount);
    if (countGrew > 0) {
      out.reserve(out.len + countGrew);
      out.buf.copyWithin(codeFrom + u32Size(count), codeFrom + u32Size(ownCount), out.len);
    }
    const end = out.len + countGrew;
    out.len = codeFrom;
    out.u32(count);
    out.len = end;
    return offsets;
  }

  /**
   * Unthreads what tail calls require: a function with a `return_call_indirect` (its callee comes
   * from a table, so it is not threaded) or a `return_call` to a function that is not threaded,
   * and every function a function that is not threaded tail-calls. Repeats until nothing changes.
   */
  function settleTailCalls(): void {
    tailCallsSettled = true;
    writeBeforeCall.fill(1);
    if (!codeSec) return;
    const callees: number[][] = [];
    const indirect = new Uint8Array(definedCount);
    const rw = new BodyRewriter(false);
    const r = new Reader(buf, codeSec.start, codeSec.end);
    r.u32();
    for (let i = 0; i < definedCount; i++) {
      const size = r.u32();
      const start = r.pos;
      if (start + size > codeSec.end) throw truncated(`function ${imports.funcs + i} body`, start);
      const ti = funcTypeIdx[i]!;
      rw.scanTailCalls(buf, start, start + size, {
        fuelGlobal, outOfFuelFunc: oofFunc, params: types[ti]!.params, resultBlockType: resultBlockType(ti),
        funcIndex: imports.funcs + i, threadedFuncs, writeBeforeCall,
      });
      callees.push(rw.tailCallees.slice());
      indirect[i] = rw.tailCallsIndirect ? 1 : 0;
      r.pos = start + size;
    }
    const unthread = (f: number): boolean => {
      if (threadedFuncs[f] !== 1) return false;
      threadedFuncs[f] = 0;
      definedTypes[f - imports.funcs] = funcTypeIdx[f - imports.funcs]!;
      return true;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = 0; i < definedCount; i++) {
        const f = imports.funcs + i;
        const list = callees[i]!;
        if (threadedFuncs[f] === 1 && (indirect[i] === 1 || list.some((g) => threadedFuncs[g] !== 1))) changed = unthread(f) || changed;
        if (threadedFuncs[f] !== 1) for (const g of list) changed = unthread(g) || changed;
      }
    }
  }
  const codeLen = out.len - codeFrom;

  // Small sections.
  const newFuncEntries: Uint8Array[] = [u32Bytes(oofType)];
  if (hasStart) newFuncEntries.push(u32Bytes(voidType));
  for (const t of twins) {
    const ti = definedTypes[t.defined]!;
    let tt = twinTypeOf.get(ti);
    if (tt === undefined) {
      tt = typeIndexFor(twinType(threadedType(types[funcTypeIdx[t.defined]!]!.raw)));
      twinTypeOf.set(ti, tt);
    }
    newFuncEntries.push(u32Bytes(tt));
  }
  const globalEntry = new Writer(16);
  globalEntry.byte(0x7e);
  globalEntry.byte(0x01);
  globalEntry.byte(0x42);
  globalEntry.s64(BigInt.asIntN(64, opts.initialFuel));
  globalEntry.byte(0x0b);
  const exportEntry = new Writer(16);
  exportEntry.name(FUEL_GLOBAL);
  exportEntry.byte(0x03);
  exportEntry.u32(fuelGlobal);

  const replaced = new Map<number, Uint8Array>();
  replaced.set(SEC_TYPE, appendToVec(buf, typeSec, newTypes));
  const funcEntries = new Writer(definedCount * 2 + 16);
  funcEntries.u32(definedCount + newFuncEntries.length);
  for (let i = 0; i < definedTypes.length; i++) funcEntries.u32(definedTypes[i]!);
  for (const e of newFuncEntries) funcEntries.bytes(e);
  replaced.set(SEC_FUNCTION, funcEntries.result());
  const globalEntries = [globalEntry.result()];
  const exportEntries = [exportEntry.result()];
  if (profileHooks) {
    // funcref table of 2 (enter, exit), filled by the host; i32 flag, 0 until the host sets it.
    replaced.set(SEC_TABLE, appendToVec(buf, tableSec, [Uint8Array.of(0x70, 0x00, 0x02)]));
    globalEntries.push(Uint8Array.of(0x7f, 0x01, 0x41, 0x00, 0x0b));
    exportEntries.push(exportOf(PROFILE_TABLE, 0x01, profileHooks.table), exportOf(PROFILE_FLAG, 0x03, profileHooks.flagGlobal));
  }
  replaced.set(SEC_GLOBAL, appendToVec(buf, globalSec, globalEntries));
  replaced.set(SEC_EXPORT, appendToVec(buf, exportSec, exportEntries));
  if (hasStart) replaced.set(SEC_START, u32Bytes(startWrapper));
  if (memorySec && opts.maxMemoryPages !== undefined) replaced.set(SEC_MEMORY, cappedMemories(info.memories, opts.maxMemoryPages));
  // The code is already in `out`; CODE_PAYLOAD marks its place among the sections.
  replaced.set(SEC_CODE, CODE_PAYLOAD);

  const newNames: NewName[] = [{ index: oofFunc, name: OUT_OF_FUEL_NAME }];
  // Local names of threaded functions move up one past the fuel param.
  const fuelParamOf = (f: number): number => (threadedFuncs[f] === 1 ? types[funcTypeIdx[f - imports.funcs]!]!.params : -1);
  if (hasStart) newNames.push({ index: startWrapper, name: START_WRAPPER_NAME });
  // A twin goes by its original's name (and local names), so a trap or profile inside it reads as the original.
  const twinNames = twins.map((t) => ({ index: t.index, of: t.func }));

  // Sections in order; missing sections we need are inserted before the first later one. Each
  // piece is a view (of the input, or of a small new section), or the code already in `out`.
  const pieces: Uint8Array[] = [buf.subarray(0, 8)];
  const emitted = new Set<number>();
  const emitSection = (id: number, payload: Uint8Array): void => {
    const header = new Writer(6);
    header.byte(id);
    header.u32(payload === CODE_PAYLOAD ? codeLen : payload.length);
    pieces.push(header.result(), payload);
  };
  const flushMissingBefore = (rank: number): void => {
    for (const [id, payload] of replaced) {
      if (!emitted.has(id) && RANK[id]! < rank) {
        emitted.add(id);
        emitSection(id, payload);
      }
    }
  };
  const ordered = [...replaced.keys()].sort((a, b) => RANK[a]! - RANK[b]!);
  const replacedSorted = new Map(ordered.map((id) => [id, replaced.get(id)!]));
  replaced.clear();
  for (const [k, v] of replacedSorted) replaced.set(k, v);

  let sawNames = false;
  for (const s of sections) {
    if (s.id === SEC_CUSTOM) {
      if (isDroppedCustom(s.name!)) continue;
      if (s.name === 'name' && !sawNames) {
        sawNames = true;
        emitSection(SEC_CUSTOM, rewriteNameSection(buf, s.start, s.end, newNames, fuelParamOf, twinNames));
        continue;
      }
      emitSection(SEC_CUSTOM, buf.subarray(s.start, s.end));
      continue;
    }
    flushMissingBefore(RANK[s.id]!);
    const rep = replaced.get(s.id);
    if (rep && !emitted.has(s.id)) {
      emitted.add(s.id);
      emitSection(s.id, rep);
    } else {
      emitSection(s.id, buf.subarray(s.start, s.end));
    }
  }
  flushMissingBefore(Infinity);
  if (!sawNames) emitSection(SEC_CUSTOM, rewriteNameSection(buf, 0, 0, newNames));
  const codeAt = assemble(out, pieces, codeFrom, codeLen);
  opts.onProgress?.(1);
  return { bytes: out.result(), offsets: offsets.finish(codeAt + countGrew) };
}

/** Stands for the code section's payload among the pieces (it is in the output buffer already). */
const CODE_PAYLOAD = new Uint8Array(0);

/**
 * Lays the pieces out in `out`, whose bytes [codeFrom, codeFrom + codeLen) are the code payload:
 * moves the code to where the pieces before it end (in place), writes those, then the pieces
 * after it. Returns where the code landed.
 */
function assemble(out: Writer, pieces: readonly Uint8Array[], codeFrom: number, codeLen: number): number {
  const at = pieces.indexOf(CODE_PAYLOAD);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < pieces.length; i++) {
    if (i < at) head += pieces[i]!.length;
    else tail += pieces[i]!.length;
  }
  out.len = codeFrom + codeLen;
  out.reserve(Math.max(codeFrom, head) + codeLen + tail);
  out.buf.copyWithin(head, codeFrom, codeFrom + codeLen);
  out.len = 0;
  for (let i = 0; i < at; i++) out.bytes(pieces[i]!);
  out.len = head + codeLen;
  for (let i = at + 1; i < pieces.length; i++) out.bytes(pieces[i]!);
  return head;
}

function exportOf(name: string, kind: number, index: number): Uint8Array {
  const w = new Writer(name.length + 16);
  w.name(name);
  w.byte(kind);
  w.u32(index);
  return w.result().slice();
}

function u32Bytes(v: number): Uint8Array {
  const w = new Writer(8);
  w.u32(v);
  return w.result();
}

function sizedBody(body: Uint8Array): Uint8Array {
  const w = new Writer(body.length + 8);
  w.u32(body.length);
  w.bytes(body);
  return w.result();
}

/** `(func $bext_out_of_fuel (param i64) local.get 0 global.set $bext_fuel unreachable)` */
function outOfFuelBody(fuelGlobal: number): Uint8Array {
  const w = new Writer(16);
  w.u32(0); // no locals
  w.byte(0x20);
  w.u32(0);
  w.byte(0x24);
  w.u32(fuelGlobal);
  w.byte(0x00);
  w.byte(0x0b);
  return w.result();
}

/**
 * The instrumented start function: stands in for wasmtime's synthesized caller (entry 1 +
 * call 1), then calls the guest's start function.
 */
function startWrapperBody(fuelGlobal: number, oofFunc: number, start: number): Uint8Array {
  const callCost = START_CALL_OVERHEAD - FUNCTION_ENTRY_COST;
  const w = new Writer(32);
  w.u32(1);
  w.u32(1);
  w.byte(0x7e); // local 0: fuel
  w.byte(0x23);
  w.u32(fuelGlobal);
  w.byte(0x42);
  w.sNum(START_CALL_OVERHEAD);
  w.byte(0x7d);
  w.byte(0x22);
  w.u32(0);
  w.byte(0x42);
  w.sNum(-callCost);
  w.byte(0x57);
  w.byte(0x04);
  w.byte(0x40);
  w.byte(0x20);
  w.u32(0);
  w.byte(0x10);
  w.u32(oofFunc);
  w.byte(0x00);
  w.byte(0x0b);
  w.byte(0x20);
  w.u32(0);
  w.byte(0x24);
  w.u32(fuelGlobal);
  w.byte(0x10);
  w.u32(start);
  w.byte(0x0b);
  return w.result();
}
