/**
 * Trap frames in the user's terms. V8 reports frames of the metered module (function index and
 * byte offset); this turns each into the function's readable name, the offset in the module the
 * user built (through the instrumenter's offset map), and, when the module carries DWARF, the
 * source file, line, column and the line's text.
 *
 * Everything here runs on the main thread, only after a trap, and is prepared lazily: the offset
 * map, the DWARF line tables and source files are read on the first trap of a module version and
 * kept for the next ones.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
// offset-map.js rather than fuel/index.js, which would load the rewriter with every server.
import { inputOffset, type OffsetMap } from '../../fuel/offset-map.js';
import { dwarfSections, lineTables, type LineTables } from '../../wasm/dwarf.js';
import { Reader, SECTION, type ParsedModule } from '../../wasm/index.js';
import { demangle } from './demangle.js';

/** A frame as V8 reported it, in the metered module. */
export interface RawFrame {
  /**
   * Function index in the metered module: the same as in the user's module for the user's own
   * functions, since instrumenting only appends functions (bext's, and twins of self-recursive
   * functions, src/fuel/twins.ts, which the symbolizer reports as their originals).
   */
  func: number;
  /** Byte offset in the metered module. */
  offset: number;
  /** The name V8 printed (from the name section), if any. */
  name?: string;
}

/** A frame in the user's module. */
export interface GuestFrame {
  /** Function index in the user's module (for bext's own functions, in the metered one). */
  func: number;
  /** Demangled name (or the export name, or `wasm-function[N]`). */
  name: string;
  /** The name as the module spells it, when demangling changed it. */
  mangled?: string;
  /** Byte offset in the user's module; for bext's own functions, in the metered one. */
  offset: number;
  /** True for a function bext added (the out-of-fuel trap, the start wrapper). */
  bext?: true;
  file?: string;
  line?: number;
  column?: number;
  /** The source line's text, when the file is readable. */
  source?: string;
}

export interface SymbolizeInput {
  /** The module as the user built it. */
  bytes: Uint8Array;
  module: ParsedModule;
  /** The metered module's offset map (read lazily). */
  offsets: () => OffsetMap;
}

/**
 * Frames in the user's terms. Unless `verbose`, the innermost panic frames (which shownStack
 * folds) get no source position: their line tables are the standard library's, the biggest in a
 * module, and decoding them would only cost the first trap time for lines nobody sees.
 */
export type Symbolizer = (frames: readonly RawFrame[], verbose?: boolean) => GuestFrame[];

/** Longest source line shown. */
const MAX_SOURCE = 160;
/** Source files bigger than this are not read for a line of context. */
const MAX_SOURCE_FILE = 8 * 1024 * 1024;

export function createSymbolizer(input: SymbolizeInput): Symbolizer {
  const { module } = input;
  const functionCount = module.functionTypes.length;
  const code = module.sections.find((s) => s.id === SECTION.code);
  // DWARF addresses count from the start of the code section's payload.
  const codeStart = code?.contentStart ?? 0;
  let map: OffsetMap | undefined;
  let bodies: number[] | undefined;
  let lines: LineTables | null | undefined;

  /** The user's function whose body holds input offset `at`. */
  const functionAt = (at: number): number | undefined => {
    if (!code) return undefined;
    if (!bodies) {
      bodies = [];
      const r = new Reader(input.bytes, code.contentStart, code.end);
      for (let n = r.u32(); n > 0; n--) {
        const size = r.u32();
        bodies.push(r.pos);
        r.skip(size, 'function body');
      }
      bodies.push(code.end);
    }
    let lo = 0;
    let hi = bodies.length - 2;
    if (hi < 0 || at < bodies[0]! || at >= bodies[hi + 1]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (bodies[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return module.importedFunctions + lo;
  };

  /**
   * The frame's function in the user's module: its own index, or for a twin (appended past the
   * user's functions, its code mapped onto the original's) the original's. Undefined for bext's
   * own functions.
   */
  const guestFunction = (r: RawFrame): number | undefined => {
    if (r.func < functionCount) return r.func;
    // The first appended function is always bext_out_of_fuel: no need to read the map for it.
    if (r.func === functionCount) return undefined;
    map ??= input.offsets();
    const at = inputOffset(map, r.offset);
    return at === undefined ? undefined : functionAt(at);
  };
  const sources = new Map<string, string[] | null>();

  const lineTablesOnce = (): LineTables | null => {
    if (lines !== undefined) return lines;
    const customs = module.sections.filter((s) => s.id === SECTION.custom && s.name?.startsWith('.debug_'));
    const s = dwarfSections(input.bytes, customs);
    lines = s.line ? lineTables(s) : null;
    return lines;
  };

  const sourceLine = (file: string, line: number): string | undefined => {
    let text = sources.get(file);
    if (text === undefined) {
      text = null;
      try {
        if (statSync(file).size <= MAX_SOURCE_FILE) text = readFileSync(file, 'utf8').split(/\r?\n/);
      } catch {
        // Not on this machine (built elsewhere, or the standard library's sources): no context.
      }
      sources.set(file, text);
    }
    const l = text?.[line - 1]?.trim();
    if (!l) return undefined;
    return l.length > MAX_SOURCE ? `${l.slice(0, MAX_SOURCE)}…` : l;
  };

  return (raw, verbose = false) => {
    const out: GuestFrame[] = [];
    const funcs = raw.map(guestFunction);
    const names = raw.map((r, k) => {
      const func = funcs[k] ?? r.func;
      const mangled = r.name ?? module.functionExports[func] ?? `wasm-function[${func}]`;
      return { mangled, name: demangle(mangled) };
    });
    const folded = verbose ? 0 : panicFrames(names.map((n) => n.name));
    for (let k = 0; k < raw.length; k++) {
      const r = raw[k]!;
      const { mangled, name } = names[k]!;
      const func = funcs[k];
      const frame: GuestFrame = { func: func ?? r.func, name, offset: r.offset };
      if (name !== mangled) frame.mangled = mangled;
      if (func === undefined) {
        frame.bext = true;
        out.push(frame);
        continue;
      }
      map ??= input.offsets();
      const at = inputOffset(map, r.offset);
      if (at === undefined) {
        out.push(frame);
        continue;
      }
      frame.offset = at;
      const loc = k < folded ? undefined : lineTablesOnce()?.lookup(at - codeStart);
      if (loc) {
        frame.file = loc.file;
        frame.line = loc.line;
        if (loc.column > 0) frame.column = loc.column;
        const src = sourceLine(loc.file, loc.line);
        if (src !== undefined) frame.source = src;
      }
      out.push(frame);
    }
    return out;
  };
}

/** A path as short as it can be while still naming the file: relative when under the cwd. */
export function shownPath(file: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** `name @ 0xOFF (file:line:col)`, one line. */
export function formatFrame(f: GuestFrame): string {
  let s = `${f.name} @ 0x${f.offset.toString(16)}`;
  if (f.file !== undefined && f.line !== undefined) s += ` (${shownPath(f.file)}:${f.line}${f.column !== undefined ? `:${f.column}` : ''})`;
  return s;
}

/**
 * Frames of Rust's panic machinery: from the panic entry points down to the trap. They carry no
 * information about the bug (the panic message does), so by default they are folded into one line.
 */
const PANIC_FRAME = /^(?:std::panicking::|core::panicking::|std::panic::|core::panic::|std::sys_common::backtrace::|std::sys::[\w:]*abort|std::process::abort|std::rt::|panic_abort::|core::result::unwrap_failed|core::option::expect_failed|rust_panic$|rust_begin_unwind$|__rust_start_panic$|__rust_abort$|__rust_panic_cleanup$|abort$|_Exit$|__wasi_proc_exit$|__wasi_proc_exit$)/;

/** One line of a shown stack, with the source line of its frame when known. */
export interface StackRow {
  text: string;
  source?: string;
}

/**
 * The stack as shown: innermost panic frames folded into `… N frames in std::panicking` (unless
 * `verbose`), repeated frames (deep recursion) folded into `(×N)`, and the metered module's entry
 * wrapper of the same name dropped.
 */
export function shownStack(frames: readonly GuestFrame[], verbose: boolean): StackRow[] {
  const rows: StackRow[] = [];
  let i = 0;
  if (!verbose) {
    i = panicFrames(frames.map((f) => f.name));
    if (i > 0) {
      const modules = [...new Set(frames.slice(0, i).map((f) => moduleOf(f.name)).filter((m) => m !== ''))];
      rows.push({ text: `… ${i} frames in ${modules.length > 0 ? modules.join(', ') : 'the panic handler'} (BEXT_PLUGIN_LOG=trace shows them)` });
    }
  }
  const rest = frames.slice(i);
  // A module's exported entry may be reached through a wrapper of the same name (Rust's
  // `on_reload.command_export` is not one; a metered module's thin wrapper would be).
  const last = rest[rest.length - 1];
  const prev = rest[rest.length - 2];
  if (last && prev && last.name === prev.name && last.offset !== prev.offset) rest.pop();
  for (let k = 0; k < rest.length; ) {
    const line = formatFrame(rest[k]!);
    let j = k + 1;
    while (j < rest.length && formatFrame(rest[j]!) === line) j++;
    const row: StackRow = { text: j - k > 1 ? `${line} (×${j - k})` : line };
    if (rest[k]!.source !== undefined) row.source = rest[k]!.source;
    rows.push(row);
    k = j;
  }
  return rows;
}

/** How many innermost frames are panic machinery worth folding (0 when fewer than 2, or all). */
function panicFrames(names: readonly string[]): number {
  let i = 0;
  while (i < names.length && PANIC_FRAME.test(names[i]!)) i++;
  return i < 2 || i === names.length ? 0 : i;
}

/** `std::panicking` of `std::panicking::begin_panic_handler::{{closure}}`. */
function moduleOf(name: string): string {
  const parts = name.split('::');
  return parts.length >= 3 ? `${parts[0]}::${parts[1]}` : '';
}
