/**
 * What a module declares: its types, imports, exports, tables, memories, start function and the
 * span of every section. Function bodies are not decoded (V8 validates them; the fuel instrumenter
 * reads them itself). One parse serves the loader's ABI check, `plugin inspect`, `plugin list` and
 * the instrumenter, and errors are precise ("truncated: the import section at offset 0x1a declares
 * 120 bytes but the file ends at 0x40") without paying for binaryen.
 */
import { Reader } from './bytes.js';
import { WasmFormatError, invalid } from './errors.js';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface Limits {
  min: number;
  max: number | null;
  shared: boolean;
  /** A 64-bit memory (memory64); only read when ParseOptions.allowMemory64 is set. */
  index64: boolean;
}

export type ImportDesc =
  | { kind: 'function'; type: FuncType }
  | { kind: 'table'; limits: Limits }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; valType: ValType; mutable: boolean }
  | { kind: 'tag' };

export type WasmImport = { module: string; name: string } & ImportDesc;

export interface WasmExport {
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  /** Index in the export's index space. */
  index: number;
  /** Signature, for function exports. */
  type?: FuncType;
}

export interface SectionSpan {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset one past the last content byte. */
  end: number;
  /** A custom section's name. */
  name?: string;
}

export interface ParsedModule {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Memories defined by the module itself (not imported). */
  memories: Limits[];
  /** Tables defined by the module itself (not imported). */
  tables: Limits[];
  sections: SectionSpan[];
  /** Function index → export name (first export of each function); names stripped modules' frames. */
  functionExports: Record<number, string>;
  types: FuncType[];
  /** Each type section entry as encoded (0x60 params results), by type index. */
  typeEntries: Uint8Array[];
  /** Type index of every function, imported functions first. */
  functionTypes: number[];
  importedFunctions: number;
  importedGlobals: number;
  /** Globals the module defines. */
  definedGlobals: number;
  /** The start section's function, if any. */
  start: number | null;
}

export interface ParseOptions {
  /**
   * Read 64-bit memory limits and mark them `index64` instead of rejecting them, for a caller that
   * refuses memory64 in its own words (the instrumenter).
   */
  allowMemory64?: boolean;
}

export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8,
  element: 9, code: 10, data: 11, dataCount: 12, tag: 13,
} as const;

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

const SECTION_NAMES: Record<number, string> = {
  0: 'custom', 1: 'type', 2: 'import', 3: 'function', 4: 'table', 5: 'memory', 6: 'global',
  7: 'export', 8: 'start', 9: 'element', 10: 'code', 11: 'data', 12: 'data count', 13: 'tag',
};

const EXPORT_KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Reference and heap types of the GC and typed-function-reference proposals (and exnref). */
function isProposalRefType(b: number): boolean {
  return b === 0x63 || b === 0x64 || (b >= 0x69 && b <= 0x74 && b !== 0x6f && b !== 0x70);
}

function valType(r: Reader): ValType {
  const at = r.pos;
  const b = r.byte();
  const t = VALTYPES[b];
  if (t) return t;
  if (isProposalRefType(b)) {
    throw new WasmFormatError('unsupported', `unsupported feature: value type ${hex(b)} at offset ${hex(at)} (garbage-collection or typed-reference types are not supported)`);
  }
  throw invalid(`unknown value type ${hex(b)} at offset ${hex(at)}`);
}

/** Unsigned LEB128 up to 64 bits, as a number (memory64 limits; exact up to 2^53). */
function u64(r: Reader): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = r.byte();
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result;
    scale *= 128;
  }
  throw invalid(`integer too long at byte ${hex(r.pos)}`);
}

function limits(r: Reader, opts: ParseOptions): Limits {
  const at = r.pos;
  const flags = r.byte();
  const index64 = (flags & 0x04) !== 0;
  if (flags > 0x07 || (index64 && !opts.allowMemory64)) {
    throw new WasmFormatError('unsupported', `unsupported feature: limits flags ${hex(flags)} at offset ${hex(at)} (64-bit memories are not supported)`);
  }
  const read = index64 ? () => u64(r) : () => r.u32();
  const min = read();
  const max = flags & 0x01 ? read() : null;
  return { min, max, shared: (flags & 0x02) !== 0, index64 };
}

function tableType(r: Reader, opts: ParseOptions): Limits {
  const at = r.pos;
  const t = r.byte();
  if (t === 0x40 || isProposalRefType(t)) {
    throw new WasmFormatError('unsupported', `unsupported feature: table type ${hex(t)} at offset ${hex(at)} (typed function references are not supported)`);
  }
  if (t !== 0x70 && t !== 0x6f) throw invalid(`table element type ${hex(t)} at offset ${hex(at)} is not a reference type`);
  return limits(r, opts);
}

/** True when the bytes start with the `\0asm` magic. */
export function hasWasmMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
}

function checkHeader(bytes: Uint8Array): void {
  if (!hasWasmMagic(bytes)) {
    const looksText = bytes.length > 0 && /^\s*\(/.test(new TextDecoder().decode(bytes.subarray(0, 64)));
    throw new WasmFormatError(
      'not_wasm',
      looksText
        ? 'not a WebAssembly binary: this looks like WAT text; compile it first (e.g. wat2wasm)'
        : 'not a WebAssembly binary: the file does not start with the "\\0asm" magic bytes',
    );
  }
  if (bytes.length < 8) throw new WasmFormatError('truncated', `truncated: the header needs 8 bytes, the file has ${bytes.length}`);
  const version = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
  if (version !== 1) {
    throw new WasmFormatError('unsupported', `unsupported feature: binary format version ${version} (only version 1 modules are supported; components are not)`);
  }
}

/** Parses the module's header and sections. Throws WasmFormatError. */
export function parseModule(bytes: Uint8Array, opts: ParseOptions = {}): ParsedModule {
  checkHeader(bytes);
  const m: ParsedModule = {
    imports: [],
    exports: [],
    memories: [],
    tables: [],
    sections: [],
    functionExports: {},
    types: [],
    typeEntries: [],
    functionTypes: [],
    importedFunctions: 0,
    importedGlobals: 0,
    definedGlobals: 0,
    start: null,
  };
  const funcTypeAt = (index: number, what: string): number => {
    if (index >= m.types.length) throw invalid(`${what} refers to type ${index}, but the module declares ${m.types.length}`);
    return index;
  };

  const top = new Reader(bytes, 8);
  while (!top.eof()) {
    const start = top.pos;
    const id = top.byte();
    const size = top.u32();
    const contentStart = top.pos;
    const end = contentStart + size;
    const label = SECTION_NAMES[id] ?? `unknown (${id})`;
    if (end > bytes.length) {
      throw new WasmFormatError(
        'truncated',
        `truncated: the ${label} section at offset ${hex(start)} declares ${size} bytes but the file ends at ${hex(bytes.length)}`,
      );
    }
    if (SECTION_NAMES[id] === undefined) throw invalid(`unknown section id ${id} at offset ${hex(start)}`);
    const span: SectionSpan = { id, start, contentStart, end };
    m.sections.push(span);
    top.pos = end;
    const r = new Reader(bytes, contentStart, end);
    switch (id) {
      case SECTION.custom:
        span.name = r.name();
        break;
      case SECTION.type: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const at = r.pos;
          const form = r.byte();
          if (form !== 0x60) {
            if (form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f) {
              throw new WasmFormatError('unsupported', `unsupported feature: type form ${hex(form)} at offset ${hex(at)} (only function types are supported)`);
            }
            throw invalid(`unknown type form ${hex(form)} at offset ${hex(at)}`);
          }
          const params: ValType[] = [];
          for (let p = r.u32(); p > 0; p--) params.push(valType(r));
          const results: ValType[] = [];
          for (let q = r.u32(); q > 0; q--) results.push(valType(r));
          m.types.push({ params, results });
          m.typeEntries.push(bytes.subarray(at, r.pos));
        }
        break;
      }
      case SECTION.import: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.strictName();
          const name = r.strictName();
          const kind = r.byte();
          if (kind === 0) {
            const ti = funcTypeAt(r.u32(), `import "${module}"."${name}"`);
            m.imports.push({ module, name, kind: 'function', type: m.types[ti]! });
            m.functionTypes.push(ti);
            m.importedFunctions++;
          } else if (kind === 1) {
            m.imports.push({ module, name, kind: 'table', limits: tableType(r, opts) });
          } else if (kind === 2) {
            m.imports.push({ module, name, kind: 'memory', limits: limits(r, opts) });
          } else if (kind === 3) {
            const type = valType(r);
            const mutable = r.byte() === 1;
            m.imports.push({ module, name, kind: 'global', valType: type, mutable });
            m.importedGlobals++;
          } else if (kind === 4) {
            r.byte();
            r.u32();
            m.imports.push({ module, name, kind: 'tag' });
          } else {
            throw invalid(`import "${module}"."${name}" has unknown kind ${kind}`);
          }
        }
        break;
      }
      case SECTION.function: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const ti = r.u32();
          // The message only when it is needed: a module may declare a million functions.
          if (ti >= m.types.length) funcTypeAt(ti, `function ${m.functionTypes.length}`);
          m.functionTypes.push(ti);
        }
        break;
      }
      case SECTION.table: {
        const n = r.u32();
        for (let i = 0; i < n; i++) m.tables.push(tableType(r, opts));
        break;
      }
      case SECTION.memory: {
        const n = r.u32();
        for (let i = 0; i < n; i++) m.memories.push(limits(r, opts));
        break;
      }
      case SECTION.global:
        m.definedGlobals = r.u32();
        break;
      case SECTION.export: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.strictName();
          const kind = r.byte();
          const index = r.u32();
          const k = EXPORT_KINDS[kind];
          if (!k) throw invalid(`export "${name}" has unknown kind ${kind}`);
          m.exports.push({ name, kind: k, index });
        }
        break;
      }
      case SECTION.start:
        m.start = r.u32();
        break;
      default:
        break;
    }
  }

  for (const e of m.exports) {
    if (e.kind !== 'function') continue;
    const ti = m.functionTypes[e.index];
    if (ti === undefined) throw invalid(`export "${e.name}" refers to function ${e.index}, but the module has ${m.functionTypes.length}`);
    e.type = m.types[ti]!;
    if (m.functionExports[e.index] === undefined) m.functionExports[e.index] = e.name;
  }
  return m;
}

/** "(i32, i32) -> i64" */
export function formatSignature(t: FuncType): string {
  const params = `(${t.params.join(', ')})`;
  if (t.results.length === 0) return `${params} -> ()`;
  if (t.results.length === 1) return `${params} -> ${t.results[0]}`;
  return `${params} -> (${t.results.join(', ')})`;
}

export function sameType(a: FuncType, b: FuncType): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((r, i) => r === b.results[i])
  );
}
