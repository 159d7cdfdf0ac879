/**
 * A small reader for the parts of the WebAssembly binary format the loader needs: types, imports,
 * functions, memories, exports. It exists so load errors can be precise ("truncated: the import
 * section declares 120 bytes at offset 0x1a but the file ends at 0x40") and so inspection never
 * pays for binaryen. Function bodies are not decoded; V8 validates them.
 */

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface Limits {
  min: number;
  max: number | null;
  shared: boolean;
}

export type ImportDesc =
  | { kind: 'function'; type: FuncType }
  | { kind: 'table' }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; valType: ValType; mutable: boolean }
  | { kind: 'tag' };

export type WasmImport = { module: string; name: string } & ImportDesc;

export interface WasmExport {
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
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
}

export interface ParsedModule {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Memories defined by the module itself (not imported). */
  memories: Limits[];
  sections: SectionSpan[];
  /** Function index → export name (first export of each function); names stripped modules' frames. */
  functionExports: Record<number, string>;
}

/** Why a binary could not be read; `kind` picks the wording of the load error. */
export class WasmFormatError extends Error {
  constructor(
    readonly kind: 'not_wasm' | 'truncated' | 'invalid' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}

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

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly what: string,
  ) {
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new WasmFormatError('truncated', `truncated: ${this.what} ends unexpectedly at offset ${hex(this.pos)}`);
    }
  }

  byte(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new WasmFormatError('invalid', `invalid: integer too large in ${this.what} at offset ${hex(this.pos)}`);
        return result;
      }
      shift += 7;
    }
    throw new WasmFormatError('invalid', `invalid: integer too long in ${this.what} at offset ${hex(this.pos)}`);
  }

  name(): string {
    const len = this.u32();
    this.need(len);
    const raw = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new WasmFormatError('invalid', `invalid: a name in ${this.what} is not UTF-8`);
    }
  }

  valType(): ValType {
    const at = this.pos;
    const b = this.byte();
    const t = VALTYPES[b];
    if (!t) throw new WasmFormatError('unsupported', `unsupported feature: value type ${hex(b)} in ${this.what} at offset ${hex(at)} (garbage-collection or typed-reference types are not supported)`);
    return t;
  }

  limits(): Limits {
    const at = this.pos;
    const flags = this.byte();
    if (flags > 0x03) {
      throw new WasmFormatError('unsupported', `unsupported feature: limits flags ${hex(flags)} at offset ${hex(at)} (64-bit memories are not supported)`);
    }
    const min = this.u32();
    const max = flags & 0x01 ? this.u32() : null;
    return { min, max, shared: (flags & 0x02) !== 0 };
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

function funcTypeAt(types: FuncType[], index: number, what: string): FuncType {
  const t = types[index];
  if (!t) throw new WasmFormatError('invalid', `invalid: ${what} refers to type ${index}, but the module declares ${types.length}`);
  return t;
}

/** Parses the module's header and sections. Throws WasmFormatError. */
export function parseModule(bytes: Uint8Array): ParsedModule {
  if (bytes.length < 4 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
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

  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const funcTypes: FuncType[] = []; // every function index space entry: imported first
  const memories: Limits[] = [];
  const exportsRaw: { name: string; kind: number; index: number }[] = [];
  const sections: SectionSpan[] = [];

  const top = new Reader(bytes, 8, bytes.length, 'the module');
  while (top.pos < bytes.length) {
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
    if (SECTION_NAMES[id] === undefined) {
      throw new WasmFormatError('invalid', `invalid: unknown section id ${id} at offset ${hex(start)}`);
    }
    sections.push({ id, start, contentStart, end });
    top.pos = end;
    const r = new Reader(bytes, contentStart, end, `the ${label} section`);
    switch (id) {
      case 1: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const at = r.pos;
          const form = r.byte();
          if (form !== 0x60) {
            throw new WasmFormatError('unsupported', `unsupported feature: type form ${hex(form)} at offset ${hex(at)} (only function types are supported)`);
          }
          const params: ValType[] = [];
          for (let p = r.u32(); p > 0; p--) params.push(r.valType());
          const results: ValType[] = [];
          for (let q = r.u32(); q > 0; q--) results.push(r.valType());
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kind = r.byte();
          if (kind === 0) {
            const type = funcTypeAt(types, r.u32(), `import "${module}"."${name}"`);
            imports.push({ module, name, kind: 'function', type });
            funcTypes.push(type);
          } else if (kind === 1) {
            r.valType();
            r.limits();
            imports.push({ module, name, kind: 'table' });
          } else if (kind === 2) {
            imports.push({ module, name, kind: 'memory', limits: r.limits() });
          } else if (kind === 3) {
            const valType = r.valType();
            const mutable = r.byte() === 1;
            imports.push({ module, name, kind: 'global', valType, mutable });
          } else if (kind === 4) {
            r.byte();
            r.u32();
            imports.push({ module, name, kind: 'tag' });
          } else {
            throw new WasmFormatError('invalid', `invalid: import "${module}"."${name}" has unknown kind ${kind}`);
          }
        }
        break;
      }
      case 3: {
        const n = r.u32();
        for (let i = 0; i < n; i++) funcTypes.push(funcTypeAt(types, r.u32(), `function ${funcTypes.length}`));
        break;
      }
      case 5: {
        const n = r.u32();
        for (let i = 0; i < n; i++) memories.push(r.limits());
        break;
      }
      case 7: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.name();
          const kind = r.byte();
          const index = r.u32();
          exportsRaw.push({ name, kind, index });
        }
        break;
      }
      default:
        r.skip(size);
    }
  }

  const exports: WasmExport[] = exportsRaw.map(({ name, kind, index }) => {
    const k = EXPORT_KINDS[kind];
    if (!k) throw new WasmFormatError('invalid', `invalid: export "${name}" has unknown kind ${kind}`);
    if (k !== 'function') return { name, kind: k };
    const type = funcTypes[index];
    if (!type) throw new WasmFormatError('invalid', `invalid: export "${name}" refers to function ${index}, but the module has ${funcTypes.length}`);
    return { name, kind: k, type };
  });
  const functionExports: Record<number, string> = {};
  for (const e of exportsRaw) if (e.kind === 0 && functionExports[e.index] === undefined) functionExports[e.index] = e.name;
  return { imports, exports, memories, sections, functionExports };
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

function u32leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * Returns a copy of the module whose memory section declares these limits instead.
 * V8 enforces a declared maximum (memory.grow past it returns -1), so rewriting the section
 * is how `limits.max_memory_mb` becomes a hard cap without touching code.
 */
export function rewriteMemories(bytes: Uint8Array, parsed: ParsedModule, memories: Limits[]): Uint8Array {
  const span = parsed.sections.find((s) => s.id === 5);
  if (!span) return bytes;
  const content: number[] = [...u32leb(memories.length)];
  for (const m of memories) {
    content.push((m.max !== null ? 0x01 : 0) | (m.shared ? 0x02 : 0), ...u32leb(m.min));
    if (m.max !== null) content.push(...u32leb(m.max));
  }
  const section = [5, ...u32leb(content.length), ...content];
  const out = new Uint8Array(bytes.length - (span.end - span.start) + section.length);
  out.set(bytes.subarray(0, span.start), 0);
  out.set(section, span.start);
  out.set(bytes.subarray(span.end), span.start + section.length);
  return out;
}
