/**
 * DWARF line tables of a wasm module: code offset → source file, line and column.
 *
 * Decodes `.debug_line` (versions 2–5, as clang and rustc emit them for wasm32) and reads just
 * enough of `.debug_info` (each compile unit's first DIE: `DW_AT_stmt_list`, `DW_AT_comp_dir`,
 * `DW_AT_name`) to turn the relative file names of a line table into paths. In wasm DWARF an
 * address is an offset from the start of the code section's payload.
 *
 * Line programs are decoded lazily, only those whose compile unit covers an address asked for. Bad or
 * unknown data never throws out of here: a unit that does not decode is skipped.
 */

export interface DwarfSections {
  line?: Uint8Array;
  info?: Uint8Array;
  abbrev?: Uint8Array;
  str?: Uint8Array;
  lineStr?: Uint8Array;
  strOffsets?: Uint8Array;
  addr?: Uint8Array;
  ranges?: Uint8Array;
  rnglists?: Uint8Array;
}

export interface SourceLocation {
  /** The file's path as the compiler recorded it (joined with its directory and comp dir). */
  file: string;
  line: number;
  /** 0 when the compiler gave no column. */
  column: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

class DwarfError extends Error {}

/** A cursor over one DWARF section. Offsets stay below 2^53; 64-bit DWARF is read as such. */
class Cursor {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    public end = buf.length,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.end) throw new DwarfError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const b = this.buf;
    const v = b[this.pos]! | (b[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }
  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    return hi * 0x100000000 + lo;
  }
  /** An address or offset of `size` bytes. */
  uN(size: number): number {
    switch (size) {
      case 1:
        return this.u8();
      case 2:
        return this.u16();
      case 4:
        return this.u32();
      case 8:
        return this.u64();
      default:
        this.need(size);
        this.pos += size;
        return 0;
    }
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    const b = this.buf;
    for (;;) {
      if (this.pos >= this.end) throw new DwarfError('truncated');
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    let byte: number;
    const b = this.buf;
    do {
      if (this.pos >= this.end) throw new DwarfError('truncated');
      byte = b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      mul *= 128;
    } while (byte & 0x80);
    if (byte & 0x40) result -= mul;
    return result;
  }
  cstr(): string {
    const start = this.pos;
    const b = this.buf;
    while (this.pos < this.end && b[this.pos] !== 0) this.pos++;
    if (this.pos >= this.end) throw new DwarfError('unterminated string');
    const s = UTF8.decode(b.subarray(start, this.pos));
    this.pos++;
    return s;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  /** unit_length: returns the unit's end and whether it is 64-bit DWARF. */
  unitLength(): { end: number; is64: boolean } {
    let len = this.u32();
    let is64 = false;
    if (len === 0xffffffff) {
      len = this.u64();
      is64 = true;
    } else if (len >= 0xfffffff0) throw new DwarfError('reserved unit length');
    const end = this.pos + len;
    if (end > this.end) throw new DwarfError('unit past the section end');
    return { end, is64 };
  }
}

function cstrAt(section: Uint8Array | undefined, offset: number): string | undefined {
  if (!section || offset >= section.length) return undefined;
  let end = offset;
  while (end < section.length && section[end] !== 0) end++;
  return UTF8.decode(section.subarray(offset, end));
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

function joinPath(dir: string | undefined, name: string): string {
  if (!dir || isAbsolute(name)) return name;
  return dir.endsWith('/') || dir.endsWith('\\') ? dir + name : `${dir}/${name}`;
}

// DW_FORM_* values.
const F = {
  addr: 0x01, block2: 0x03, block4: 0x04, data2: 0x05, data4: 0x06, data8: 0x07, string: 0x08, block: 0x09,
  block1: 0x0a, data1: 0x0b, flag: 0x0c, sdata: 0x0d, strp: 0x0e, udata: 0x0f, refAddr: 0x10, ref1: 0x11,
  ref2: 0x12, ref4: 0x13, ref8: 0x14, refUdata: 0x15, indirect: 0x16, secOffset: 0x17, exprloc: 0x18,
  flagPresent: 0x19, strx: 0x1a, addrx: 0x1b, refSup4: 0x1c, strpSup: 0x1d, data16: 0x1e, lineStrp: 0x1f,
  refSig8: 0x20, implicitConst: 0x21, loclistx: 0x22, rnglistx: 0x23, refSup8: 0x24, strx1: 0x25, strx2: 0x26,
  strx3: 0x27, strx4: 0x28, addrx1: 0x29, addrx2: 0x2a, addrx3: 0x2b, addrx4: 0x2c,
} as const;

interface FormContext {
  is64: boolean;
  addrSize: number;
  version: number;
  sections: DwarfSections;
}

/** A string or number attribute value; strx values are resolved by the caller (they need a base). */
type FormValue = { str: string } | { num: number } | { strx: number } | null;

function readForm(c: Cursor, form: number, ctx: FormContext, implicit: number): FormValue {
  const off = ctx.is64 ? 8 : 4;
  switch (form) {
    case F.addr:
      return { num: c.uN(ctx.addrSize) };
    case F.block2:
      c.skip(c.u16());
      return null;
    case F.block4:
      c.skip(c.u32());
      return null;
    case F.data2:
      return { num: c.u16() };
    case F.data4:
      return { num: c.u32() };
    case F.data8:
      return { num: c.u64() };
    case F.data16:
      c.skip(16);
      return null;
    case F.string:
      return { str: c.cstr() };
    case F.block:
    case F.exprloc:
      c.skip(c.uleb());
      return null;
    case F.block1:
      c.skip(c.u8());
      return null;
    case F.data1:
    case F.flag:
    case F.ref1:
      return { num: c.u8() };
    case F.sdata:
      return { num: c.sleb() };
    case F.udata:
    case F.refUdata:
    case F.addrx:
    case F.loclistx:
    case F.rnglistx:
      return { num: c.uleb() };
    case F.strp: {
      const s = cstrAt(ctx.sections.str, c.uN(off));
      return s === undefined ? null : { str: s };
    }
    case F.lineStrp: {
      const s = cstrAt(ctx.sections.lineStr, c.uN(off));
      return s === undefined ? null : { str: s };
    }
    case F.strpSup:
      c.uN(off);
      return null;
    case F.refAddr:
      return { num: c.uN(ctx.version <= 2 ? ctx.addrSize : off) };
    case F.secOffset:
      return { num: c.uN(off) };
    case F.ref2:
      return { num: c.u16() };
    case F.ref4:
    case F.refSup4:
      return { num: c.u32() };
    case F.ref8:
    case F.refSig8:
    case F.refSup8:
      return { num: c.u64() };
    case F.indirect:
      return readForm(c, c.uleb(), ctx, implicit);
    case F.flagPresent:
      return { num: 1 };
    case F.implicitConst:
      return { num: implicit };
    case F.strx:
      return { strx: c.uleb() };
    case F.strx1:
      return { strx: c.u8() };
    case F.strx2:
      return { strx: c.u16() };
    case F.strx3:
      return { strx: c.u16() + c.u8() * 0x10000 };
    case F.strx4:
      return { strx: c.u32() };
    case F.addrx1:
      return { num: c.u8() };
    case F.addrx2:
      return { num: c.u16() };
    case F.addrx3:
      return { num: c.u16() + c.u8() * 0x10000 };
    case F.addrx4:
      return { num: c.u32() };
    default:
      throw new DwarfError(`unknown form 0x${form.toString(16)}`);
  }
}

interface AbbrevAttr {
  name: number;
  form: number;
  implicit: number;
}

/** The attribute specs of abbreviation `code` in the table at `offset`. */
function findAbbrev(abbrev: Uint8Array, offset: number, code: number): AbbrevAttr[] | undefined {
  const c = new Cursor(abbrev, offset);
  for (;;) {
    const got = c.uleb();
    if (got === 0) return undefined;
    c.uleb(); // tag
    c.u8(); // has children
    const attrs: AbbrevAttr[] = [];
    for (;;) {
      const name = c.uleb();
      const form = c.uleb();
      if (name === 0 && form === 0) break;
      attrs.push({ name, form, implicit: form === F.implicitConst ? c.sleb() : 0 });
    }
    if (got === code) return attrs;
  }
}

const AT_NAME = 0x03;
const AT_STMT_LIST = 0x10;
const AT_LOW_PC = 0x11;
const AT_HIGH_PC = 0x12;
const AT_COMP_DIR = 0x1b;
const AT_RANGES = 0x55;
const AT_STR_OFFSETS_BASE = 0x72;
const AT_ADDR_BASE = 0x73;

interface UnitInfo {
  compDir?: string;
  name?: string;
  /**
   * Code ranges [lo, hi) pairs the unit covers; undefined when unknown (the unit is always
   * searched). A range list is read when a lookup first needs it (big programs have many).
   */
  ranges?: number[] | (() => number[] | undefined);
}

/** True for an address wasm-ld wrote for code it dropped (0 before LLVM 12, tombstones after). */
function deadAddress(a: number): boolean {
  return a === 0 || a >= 0xfffffff0;
}

/** DWARF 4 `.debug_ranges` list at `offset`. */
function rangesV4(sec: Uint8Array, offset: number, base: number, addrSize: number): number[] | undefined {
  const out: number[] = [];
  if (addrSize === 4) {
    // wasm32: the common case, read without the general cursor.
    const view = new DataView(sec.buffer, sec.byteOffset, sec.byteLength);
    for (let p = offset; p + 8 <= sec.length; p += 8) {
      const lo = view.getUint32(p, true);
      const hi = view.getUint32(p + 4, true);
      if (lo === 0 && hi === 0) return out;
      if (lo === 0xffffffff) base = hi;
      else if (lo !== hi && !deadAddress(lo) && !(base === 0 && lo === 0)) out.push(base + lo, base + hi);
    }
    return undefined;
  }
  const c = new Cursor(sec, offset);
  const baseMark = addrSize === 8 ? Number.MAX_SAFE_INTEGER : 0xffffffff;
  for (;;) {
    const lo = c.uN(addrSize);
    const hi = c.uN(addrSize);
    if (lo === 0 && hi === 0) return out;
    if (lo === 0xffffffff || lo >= baseMark) {
      base = hi;
      continue;
    }
    if (lo === hi || deadAddress(lo) || (base === 0 && lo === 0)) continue;
    out.push(base + lo, base + hi);
  }
}

/** DWARF 5 `.debug_rnglists` list at `offset`; undefined when it needs what is not read here. */
function rangesV5(sec: Uint8Array, offset: number, base: number, addrSize: number, addrx: (i: number) => number | undefined): number[] | undefined {
  const c = new Cursor(sec, offset);
  const out: number[] = [];
  const add = (lo: number | undefined, hi: number | undefined): boolean => {
    if (lo === undefined || hi === undefined) return false;
    if (lo !== hi && !deadAddress(lo)) out.push(lo, hi);
    return true;
  };
  for (;;) {
    switch (c.u8()) {
      case 0:
        return out;
      case 1: {
        const b = addrx(c.uleb());
        if (b === undefined) return undefined;
        base = b;
        break;
      }
      case 2: {
        if (!add(addrx(c.uleb()), addrx(c.uleb()))) return undefined;
        break;
      }
      case 3: {
        const lo = addrx(c.uleb());
        const len = c.uleb();
        if (!add(lo, lo === undefined ? undefined : lo + len)) return undefined;
        break;
      }
      case 4: {
        const lo = c.uleb();
        const hi = c.uleb();
        if (!deadAddress(base)) add(base + lo, base + hi);
        break;
      }
      case 5:
        base = c.uN(addrSize);
        break;
      case 6:
        add(c.uN(addrSize), c.uN(addrSize));
        break;
      case 7: {
        const lo = c.uN(addrSize);
        add(lo, lo + c.uleb());
        break;
      }
      default:
        return undefined;
    }
  }
}

/** Compile units by the offset of their line program (`DW_AT_stmt_list`), with the code they cover. */
function compileUnits(s: DwarfSections): Map<number, UnitInfo> {
  const units = new Map<number, UnitInfo>();
  if (!s.info || !s.abbrev) return units;
  const c = new Cursor(s.info);
  while (c.pos < c.end) {
    let unitEnd: number;
    try {
      const { end, is64 } = c.unitLength();
      unitEnd = end;
      const version = c.u16();
      let addrSize: number;
      let abbrevOffset: number;
      if (version >= 5) {
        const unitType = c.u8();
        addrSize = c.u8();
        abbrevOffset = c.uN(is64 ? 8 : 4);
        if (unitType === 4 || unitType === 5) c.skip(8); // skeleton / split: dwo id
        else if (unitType === 2 || unitType === 6) c.skip(8 + (is64 ? 8 : 4)); // type units
      } else {
        abbrevOffset = c.uN(is64 ? 8 : 4);
        addrSize = c.u8();
      }
      const code = c.uleb();
      const attrs = code === 0 ? undefined : findAbbrev(s.abbrev, abbrevOffset, code);
      if (attrs) {
        const ctx: FormContext = { is64, addrSize, version, sections: s };
        const values = new Map<number, { form: number; v: FormValue }>();
        for (const a of attrs) values.set(a.name, { form: a.form, v: readForm(c, a.form, ctx, a.implicit) });
        const num = (at: number): number | undefined => {
          const e = values.get(at);
          return e && e.v && 'num' in e.v ? e.v.num : undefined;
        };
        const stmtList = num(AT_STMT_LIST);
        if (stmtList !== undefined) {
          const off = is64 ? 8 : 4;
          const strOffsetsBase = num(AT_STR_OFFSETS_BASE) ?? 8;
          const addrBase = num(AT_ADDR_BASE) ?? 8;
          const str = (at: number): string | undefined => {
            const v = values.get(at)?.v;
            if (v && 'str' in v) return v.str;
            if (v && 'strx' in v && s.strOffsets) {
              const p = strOffsetsBase + v.strx * off;
              if (p + off <= s.strOffsets.length) return cstrAt(s.str, new Cursor(s.strOffsets, p).uN(off));
            }
            return undefined;
          };
          const addrx = (i: number): number | undefined => {
            const p = addrBase + i * addrSize;
            return s.addr && p + addrSize <= s.addr.length ? new Cursor(s.addr, p).uN(addrSize) : undefined;
          };
          // DW_FORM_addrx* low_pc values are indices into .debug_addr.
          const isAddrx = (form: number): boolean => form === F.addrx || (form >= F.addrx1 && form <= F.addrx4);
          const pc = (at: number): number | undefined => {
            const e = values.get(at);
            const n = num(at);
            return e && n !== undefined && isAddrx(e.form) ? addrx(n) : n;
          };
          const info: UnitInfo = { compDir: str(AT_COMP_DIR), name: str(AT_NAME) };
          const low = pc(AT_LOW_PC);
          const rangesAt = values.get(AT_RANGES);
          if (rangesAt) {
            const o = num(AT_RANGES);
            if (o !== undefined && rangesAt.form !== F.rnglistx) {
              info.ranges = () => {
                try {
                  return version >= 5
                    ? (s.rnglists ? rangesV5(s.rnglists, o, low ?? 0, addrSize, addrx) : undefined)
                    : (s.ranges ? rangesV4(s.ranges, o, low ?? 0, addrSize) : undefined);
                } catch {
                  return undefined;
                }
              };
            }
          } else if (low !== undefined) {
            const highAt = values.get(AT_HIGH_PC);
            const high = pc(AT_HIGH_PC);
            if (highAt && high !== undefined) {
              // high_pc is an address in the addr forms, else an offset from low_pc.
              const end = highAt.form === F.addr || isAddrx(highAt.form) ? high : low + high;
              info.ranges = deadAddress(low) ? [] : [low, end];
            }
          }
          units.set(stmtList, info);
        }
      }
    } catch {
      return units;
    }
    c.pos = unitEnd;
  }
  return units;
}

// DW_LNCT_* content types of DWARF 5 entry formats.
const LNCT_PATH = 1;
const LNCT_DIRECTORY_INDEX = 2;

/** DWARF 5 directory or file entries: each a list of (content type, form). */
function readEntries(c: Cursor, ctx: FormContext): { path: string; dir: number }[] {
  const formatCount = c.u8();
  const format: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) format.push([c.uleb(), c.uleb()]);
  const count = c.uleb();
  const out: { path: string; dir: number }[] = [];
  for (let i = 0; i < count; i++) {
    let p = '';
    let dir = 0;
    for (const [type, form] of format) {
      const v = readForm(c, form, ctx, 0);
      if (type === LNCT_PATH && v && 'str' in v) p = v.str;
      else if (type === LNCT_DIRECTORY_INDEX && v && 'num' in v) dir = v.num;
    }
    out.push({ path: p, dir });
  }
  return out;
}

/** Growable row storage for the decoder. */
class Rows {
  addr = new Uint32Array(4096);
  file = new Int32Array(4096);
  line = new Uint32Array(4096);
  column = new Uint32Array(4096);
  n = 0;
  /** Index of the first row of each sequence (each sequence's rows ascend). */
  seqStarts: number[] = [];
  push(addr: number, file: number, line: number, column: number): void {
    if (this.n === this.addr.length) this.grow();
    const n = this.n++;
    this.addr[n] = addr;
    this.file[n] = file;
    this.line[n] = line;
    this.column[n] = column;
  }
  /** Drops rows from `from` on (a sequence that turned out to be dead code). */
  truncate(from: number): void {
    this.n = from;
    while (this.seqStarts.length > 0 && this.seqStarts[this.seqStarts.length - 1]! >= from) this.seqStarts.pop();
  }
  private grow(): void {
    const size = this.addr.length * 2;
    const a = new Uint32Array(size);
    a.set(this.addr);
    this.addr = a;
    const f = new Int32Array(size);
    f.set(this.file);
    this.file = f;
    const l = new Uint32Array(size);
    l.set(this.line);
    this.line = l;
    const col = new Uint32Array(size);
    col.set(this.column);
    this.column = col;
  }
}

/**
 * Decodes one line program (the unit at `c.pos`) into `rows`. `fileIds` turns the unit's path
 * strings into indices of one shared file list.
 */
function decodeUnit(c: Cursor, s: DwarfSections, unit: UnitInfo | undefined, rows: Rows, fileId: (path: string) => number): void {
  const { end, is64 } = c.unitLength();
  const version = c.u16();
  if (version < 2 || version > 5) throw new DwarfError(`line table version ${version}`);
  let addrSize = 4;
  if (version >= 5) {
    addrSize = c.u8();
    c.u8(); // segment selector size
  }
  const headerLength = c.uN(is64 ? 8 : 4);
  const programStart = c.pos + headerLength;
  const minInst = c.u8();
  if (version >= 4) c.u8(); // maximum operations per instruction (1 outside VLIW)
  const defaultIsStmt = c.u8();
  void defaultIsStmt;
  const lineBase = (c.u8() << 24) >> 24;
  const lineRange = c.u8();
  const opcodeBase = c.u8();
  if (lineRange === 0) throw new DwarfError('line_range 0');
  const stdLengths: number[] = [0];
  for (let i = 1; i < opcodeBase; i++) stdLengths.push(c.u8());

  // Paths of the unit's files, by the index the program uses.
  const fileIndex: number[] = [];
  const compDir = unit?.compDir;
  if (version >= 5) {
    const ctx: FormContext = { is64, addrSize, version, sections: s };
    const dirs = readEntries(c, ctx).map((d) => d.path);
    const files = readEntries(c, ctx);
    const dirPath = (i: number): string | undefined => {
      const d = dirs[i];
      if (d === undefined) return compDir;
      return isAbsolute(d) ? d : joinPath(compDir, d);
    };
    for (const f of files) fileIndex.push(fileId(joinPath(dirPath(f.dir), f.path)));
  } else {
    const dirs: string[] = [];
    for (;;) {
      const d = c.cstr();
      if (d === '') break;
      dirs.push(d);
    }
    const dirPath = (i: number): string | undefined => {
      if (i === 0) return compDir;
      const d = dirs[i - 1];
      if (d === undefined) return compDir;
      return isAbsolute(d) ? d : joinPath(compDir, d);
    };
    fileIndex.push(-1); // file numbers start at 1 before DWARF 5
    for (;;) {
      const name = c.cstr();
      if (name === '') break;
      const dir = c.uleb();
      c.uleb(); // mtime
      c.uleb(); // length
      fileIndex.push(fileId(joinPath(dirPath(dir), name)));
    }
  }

  c.pos = programStart;
  let address = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  // -1 until the sequence's first row; then whether the sequence is live code. Sequences at
  // address 0 or at a tombstone (0xffffffff, 0xfffffffe) describe code the linker dropped, and
  // std's tables are mostly such, so their rows are never stored.
  let live = -1;
  let seqStart = rows.n;
  const buf = c.buf;
  while (c.pos < end) {
    const op = buf[c.pos++]!;
    if (op >= opcodeBase) {
      const adj = op - opcodeBase;
      address += ((adj / lineRange) | 0) * minInst;
      line += lineBase + (adj % lineRange);
    } else if (op === 0) {
      const len = c.uleb();
      const next = c.pos + len;
      if (len === 0) continue;
      const sub = c.u8();
      if (sub === 1) {
        if (live === 1) rows.push(address, -1, 0, 0);
        address = 0;
        file = 1;
        line = 1;
        column = 0;
        live = -1;
      } else if (sub === 2) {
        address = c.uN(len - 1);
      } else if (sub === 3 && version <= 4) {
        const name = c.cstr();
        c.uleb(); // directory
        fileIndex.push(fileId(joinPath(compDir, name)));
      }
      c.pos = next;
      continue;
    } else {
      switch (op) {
        case 1: // copy
          break;
        case 2: // advance_pc
          address += c.uleb() * minInst;
          continue;
        case 3: // advance_line
          line += c.sleb();
          continue;
        case 4: // set_file
          file = c.uleb();
          continue;
        case 5: // set_column
          column = c.uleb();
          continue;
        case 8: // const_add_pc
          address += (((255 - opcodeBase) / lineRange) | 0) * minInst;
          continue;
        case 9: // fixed_advance_pc
          address += c.u16();
          continue;
        case 6: // negate_stmt
        case 7: // set_basic_block
        case 10: // set_prologue_end
        case 11: // set_epilogue_begin
          continue;
        default:
          // set_isa and opcodes this decoder does not know: skip their ULEB operands.
          for (let i = 0; i < (stdLengths[op] ?? 0); i++) c.uleb();
          continue;
      }
    }
    // A row (special opcode or copy).
    if (live < 0) {
      live = address > 0 && address < 0xfffffff0 ? 1 : 0;
      seqStart = rows.n;
      if (live === 1) rows.seqStarts.push(seqStart);
    }
    if (live === 1) rows.push(address, fileIndex[file] ?? -1, line, column);
  }
  // A sequence without its end_sequence row is cut off; drop it.
  if (live === 1) rows.truncate(seqStart);
  c.pos = end;
}

/** One decoded line program: its rows sorted by address. */
interface UnitRows {
  addr: Uint32Array;
  /** Index into the shared file list, or -1 for the end of a sequence (no code is covered there). */
  file: Int32Array;
  line: Uint32Array;
  column: Uint32Array;
}

/** Maps code addresses to source locations, decoding only the line programs a lookup needs. */
export interface LineTables {
  /** The source location of the code at `address` (code-section-relative), if a table covers it. */
  lookup(address: number): SourceLocation | undefined;
  /** Line programs in the module, decoded so far, and found undecodable. */
  counts(): { units: number; decoded: number; skipped: number };
}

/**
 * Line tables over a module's DWARF sections. Nothing is read until the first lookup; then the
 * compile units' code ranges (from `.debug_info`) say which line programs can cover an address,
 * and only those are decoded, once each. Units whose ranges are unknown are decoded on the first
 * lookup. Never throws.
 */
export function lineTables(s: DwarfSections): LineTables {
  const files: string[] = [];
  const ids = new Map<string, number>();
  const fileId = (p: string): number => {
    let id = ids.get(p);
    if (id === undefined) {
      id = files.length;
      files.push(p);
      ids.set(p, id);
    }
    return id;
  };
  interface Unit {
    offset: number;
    info: UnitInfo | undefined;
    rows: UnitRows | null | undefined; // null: does not decode
  }
  let units: Unit[] | undefined;
  let skipped = 0;
  const init = (): Unit[] => {
    const cus = compileUnits(s);
    const list: Unit[] = [];
    if (s.line) {
      const c = new Cursor(s.line);
      while (c.pos + 4 <= c.end) {
        const offset = c.pos;
        try {
          c.pos = c.unitLength().end;
        } catch {
          break;
        }
        list.push({ offset, info: cus.get(offset), rows: undefined });
      }
    }
    return list;
  };
  const decode = (u: Unit): UnitRows | null => {
    if (u.rows !== undefined) return u.rows;
    const rows = new Rows();
    try {
      decodeUnit(new Cursor(s.line!, u.offset), s, u.info, rows, fileId);
      u.rows = sortRows(rows);
    } catch {
      skipped++;
      u.rows = null;
    }
    return u.rows;
  };
  return {
    lookup(address: number): SourceLocation | undefined {
      units ??= init();
      for (const u of units) {
        let r = u.info?.ranges;
        if (typeof r === 'function') r = u.info!.ranges = r();
        if (r) {
          let inside = false;
          for (let i = 0; i < r.length && !inside; i += 2) inside = address >= r[i]! && address < r[i + 1]!;
          if (!inside) continue;
        }
        const rows = decode(u);
        const hit = rows ? lookupRows(rows, files, address) : undefined;
        if (hit) return hit;
      }
      return undefined;
    },
    counts() {
      units ??= init();
      return { units: units.length, decoded: units.filter((u) => u.rows !== undefined).length, skipped };
    },
  };
}

/**
 * Rows by address. Each sequence's rows ascend, so sorting the sequences by their first address
 * is enough when they do not overlap (what linkers produce); otherwise every row is sorted, an
 * end-of-sequence row before a row starting at the same address.
 */
function sortRows(rows: Rows): UnitRows {
  const n = rows.n;
  const { addr, file, seqStarts } = rows;
  const seqEnd = (k: number): number => (k + 1 < seqStarts.length ? seqStarts[k + 1]! : n);
  const seqs = seqStarts.map((_, k) => k).sort((a, b) => addr[seqStarts[a]!]! - addr[seqStarts[b]!]!);
  const order = new Uint32Array(n);
  let o = 0;
  for (const k of seqs) for (let i = seqStarts[k]!; i < seqEnd(k); i++) order[o++] = i;
  let sorted = o === n;
  for (let i = 1; i < n && sorted; i++) if (addr[order[i]!]! < addr[order[i - 1]!]!) sorted = false;
  if (!sorted) {
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => addr[a]! - addr[b]! || (file[b] === -1 ? 1 : 0) - (file[a] === -1 ? 1 : 0) || a - b);
  }
  const out: UnitRows = { addr: new Uint32Array(n), file: new Int32Array(n), line: new Uint32Array(n), column: new Uint32Array(n) };
  for (let i = 0; i < n; i++) {
    const j = order[i]!;
    out.addr[i] = rows.addr[j]!;
    out.file[i] = rows.file[j]!;
    out.line[i] = rows.line[j]!;
    out.column[i] = rows.column[j]!;
  }
  return out;
}

function lookupRows(rows: UnitRows, files: readonly string[], address: number): SourceLocation | undefined {
  const { addr } = rows;
  let lo = 0;
  let hi = addr.length - 1;
  if (hi < 0 || address < addr[0]!) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (addr[mid]! <= address) lo = mid;
    else hi = mid - 1;
  }
  const file = rows.file[lo]!;
  const line = rows.line[lo]!;
  if (file < 0 || line === 0) return undefined;
  return { file: files[file]!, line, column: rows.column[lo]! };
}

const SECTION_NAMES: Record<string, keyof DwarfSections> = {
  '.debug_line': 'line',
  '.debug_info': 'info',
  '.debug_abbrev': 'abbrev',
  '.debug_str': 'str',
  '.debug_line_str': 'lineStr',
  '.debug_str_offsets': 'strOffsets',
  '.debug_addr': 'addr',
  '.debug_ranges': 'ranges',
  '.debug_rnglists': 'rnglists',
};

/** The DWARF sections among a module's custom sections (by name and payload range). */
export function dwarfSections(bytes: Uint8Array, customs: readonly { name?: string; contentStart: number; end: number }[]): DwarfSections {
  const s: DwarfSections = {};
  for (const c of customs) {
    const key = c.name === undefined ? undefined : SECTION_NAMES[c.name];
    if (!key || s[key]) continue;
    // contentStart is where the custom section's name begins; the payload follows the name.
    let p = c.contentStart;
    let nameLen = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++]!;
      nameLen |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    s[key] = bytes.subarray(p + nameLen, c.end);
  }
  return s;
}
