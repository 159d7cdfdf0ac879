// Big WebAssembly modules of several shapes, built byte by byte (no toolchain), for the
// instrumentation memory benchmark and the before/after comparison of the rewriter's output:
//   small-funcs  many small functions (loops, branches, calls, memory, bulk copies)
//   huge-funcs   a few functions of megabytes each (deep nesting, br_table, long blocks)
//   big-data     most of the bytes in data segments (active and passive), a little code
//   tiled        a compiled module (clang, from gen-big.js) with its code section repeated
// Every module validates; none is meant to be run.
import { rng } from './gen-big.js';

/** Byte sink growing by chunks (so generating 50 MB does not double its memory while growing). */
class Bytes {
  constructor() {
    this.chunks = [];
    this.cur = new Uint8Array(256);
    this.len = 0;
    this.total = 0;
  }
  byte(b) {
    if (this.len === this.cur.length) this.flush();
    this.cur[this.len++] = b;
  }
  flush() {
    this.chunks.push(this.cur.subarray(0, this.len));
    this.total += this.len;
    // Keep writing into what is left of the current buffer; a full one is followed by a bigger one.
    const rest = this.cur.subarray(this.len);
    this.cur = rest.length >= 64 ? rest : new Uint8Array(Math.min(1 << 20, Math.max(256, this.cur.length * 2)));
    this.len = 0;
  }
  u32(v) {
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
  }
  s32(v) {
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }
  all(arr) {
    for (const b of arr) this.byte(b);
  }
  bytes(u8) {
    if (this.len > 0) this.flush();
    this.chunks.push(u8);
    this.total += u8.length;
  }
  /** Appends another sink's bytes without copying them. */
  append(other) {
    if (other.len > 0) other.flush();
    for (const c of other.chunks) this.bytes(c);
  }
  size() {
    return this.total + this.len;
  }
  result() {
    if (this.len > 0) this.flush();
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function leb(v) {
  const b = new Bytes();
  b.u32(v);
  return b.result();
}

/** Section `id` with its payload (a Bytes). */
function section(out, id, payload) {
  out.byte(id);
  out.u32(payload.size());
  out.append(payload);
}

const I32 = 0x7f, I64 = 0x7e, F64 = 0x7c;

/**
 * Writes straight-line and structured statements that leave the stack as they found it. Locals:
 * 0,1 params i32; 2,3,4 i32; 5 i64; 6 f64. `funcs` is how many (i32,i32)->i32 functions there are.
 */
function statements(b, r, count, depth, funcs, self) {
  const pick = (n) => Math.floor(r() * n);
  const li = () => pick(5);
  for (let s = 0; s < count; s++) {
    const k = depth > 0 ? pick(13) : pick(8);
    switch (k) {
      case 0: // x = a op k
        b.all([0x20, li(), 0x41]);
        b.s32(pick(1 << 20) - (1 << 19));
        b.byte([0x6a, 0x6b, 0x6c, 0x71, 0x72, 0x73][pick(6)]);
        b.all([0x21, 2 + pick(3)]);
        break;
      case 1: // load
        b.all([0x20, li(), 0x41]);
        b.s32(4095);
        b.all([0x71, 0x28, 0x02]);
        b.u32(pick(256) * 4);
        b.all([0x21, 2 + pick(3)]);
        break;
      case 2: // store
        b.all([0x20, li(), 0x41]);
        b.s32(4092);
        b.all([0x71, 0x20, li(), 0x36, 0x02]);
        b.u32(pick(64) * 4);
        break;
      case 3: // i64
        b.all([0x20, li(), 0xad, 0x42]);
        b.s32(pick(1 << 30));
        b.all([0x7e, 0x20, 5, 0x7c, 0x21, 5]);
        break;
      case 4: {
        // f64
        b.all([0x20, 6, 0x44]);
        b.all(new Uint8Array(Float64Array.of(r() * 3).buffer));
        b.all([0xa2, 0x20, li(), 0xb8, 0xa0, 0x21, 6]);
        break;
      }
      case 5: // call
        if (funcs > 1) {
          b.all([0x20, li(), 0x20, li(), 0x10]);
          b.u32(pick(funcs));
          b.all([0x21, 2 + pick(3)]);
        }
        break;
      case 6: // division (may trap)
        b.all([0x20, li(), 0x20, li(), 0x41, 1, 0x72, [0x6d, 0x6e, 0x6f, 0x70][pick(4)], 0x21, 2 + pick(3)]);
        break;
      case 7: // memory.fill with a constant or variable length
        b.all([0x20, li(), 0x41]);
        b.s32(1023);
        b.all([0x71, 0x41, pick(100)]);
        if (pick(2)) b.all([0x41, pick(60)]);
        else b.all([0x20, li(), 0x41, 63, 0x71]);
        b.all([0xfc, 11, 0]);
        break;
      case 8: // counted loop: block loop ... br_if 1 ... br 0 end end
        b.all([0x02, 0x40, 0x03, 0x40, 0x20, 4, 0x45, 0x0d, 1, 0x20, 4, 0x41, 1, 0x6b, 0x21, 4]);
        statements(b, r, 1 + pick(4), depth - 1, funcs, self);
        b.all([0x0c, 0, 0x0b, 0x0b]);
        break;
      case 9: // if / else
        b.all([0x20, li(), 0x04, 0x40]);
        statements(b, r, 1 + pick(3), depth - 1, funcs, self);
        if (pick(2)) {
          b.byte(0x05);
          statements(b, r, 1 + pick(3), depth - 1, funcs, self);
        }
        b.byte(0x0b);
        break;
      case 10: // br_table over three blocks
        b.all([0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x20, li(), 0x0e, 2, 0, 1, 2, 0x0b]);
        statements(b, r, 1 + pick(2), depth - 1, funcs, self);
        b.byte(0x0b);
        statements(b, r, 1 + pick(2), depth - 1, funcs, self);
        b.byte(0x0b);
        break;
      case 11: // while-style loop with an early exit
        b.all([0x03, 0x40, 0x20, 3, 0x41, 1, 0x6a, 0x22, 3, 0x41]);
        b.s32(pick(1000));
        b.all([0x4b, 0x04, 0x40]);
        statements(b, r, 1 + pick(3), depth - 1, funcs, self);
        b.all([0x0c, 1, 0x0b, 0x0b]);
        break;
      default: // block with a result, br_if out of it
        b.all([0x02, I32, 0x20, li(), 0x20, li(), 0x0d, 0, 0x1a]);
        statements(b, r, pick(2), depth - 1, funcs, self);
        b.all([0x20, li(), 0x0b, 0x21, 2 + pick(3)]);
    }
  }
}

function body(r, stmts, depth, funcs, self) {
  const b = new Bytes();
  b.all([3, 3, I32, 1, I64, 1, F64]);
  statements(b, r, stmts, depth, funcs, self);
  b.all([0x20, 2, 0x20, 3, 0x73, 0x0b]);
  return b;
}

/**
 * A module of `funcs` (i32,i32)->i32 functions whose bodies come from `makeBody(i)`, plus
 * `dataBytes` of data (half active, half passive), a table holding the first functions and some
 * exports. Stops adding functions once the code reaches `codeTarget` bytes (when set).
 */
function assemble({ funcs, makeBody, dataBytes = 0, seed = 1, codeTarget = Infinity }) {
  const r = rng(seed ^ 0x5eed);
  const code = new Bytes();
  let n = 0;
  const bodies = new Bytes();
  for (; n < funcs && bodies.size() < codeTarget; n++) {
    const b = makeBody(n);
    bodies.u32(b.size());
    bodies.append(b);
  }
  code.u32(n);
  code.append(bodies);
  const out = new Bytes();
  out.all([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const types = new Bytes();
  types.all([1, 0x60, 2, I32, I32, 1, I32]);
  section(out, 1, types);
  const fsec = new Bytes();
  fsec.u32(n);
  for (let i = 0; i < n; i++) fsec.byte(0);
  section(out, 3, fsec);
  const tab = new Bytes();
  const inTable = Math.min(n, 64);
  tab.all([1, 0x70, 0]);
  tab.u32(inTable);
  section(out, 4, tab);
  const pages = Math.max(1, Math.ceil((dataBytes / 2 + 65536) / 65536));
  const mem = new Bytes();
  mem.all([1, 0]);
  mem.u32(pages);
  section(out, 5, mem);
  const exp = new Bytes();
  const exported = Math.min(n, 16);
  exp.u32(exported + 1);
  exp.all([6, ...Buffer.from('memory'), 2, 0]);
  for (let i = 0; i < exported; i++) {
    const name = Buffer.from(`f${i * 7 % n}`);
    exp.u32(name.length);
    exp.all(name);
    exp.byte(0);
    exp.u32((i * 7) % n);
  }
  // Duplicate names are invalid: f0 could repeat when n is small.
  section(out, 7, exp);
  const elem = new Bytes();
  elem.all([1, 0, 0x41, 0, 0x0b]);
  elem.u32(inTable);
  for (let i = 0; i < inTable; i++) elem.u32(n - 1 - i);
  section(out, 9, elem);
  const segments = dataBytes > 0 ? 8 : 0;
  if (segments) {
    const dc = new Bytes();
    dc.u32(segments);
    section(out, 12, dc);
  }
  section(out, 10, code);
  if (segments) {
    const data = new Bytes();
    data.u32(segments);
    const per = Math.floor(dataBytes / segments);
    for (let s = 0; s < segments; s++) {
      const bytes = new Uint8Array(per);
      for (let i = 0; i < per; i += 4096) bytes[i] = Math.floor(r() * 256);
      if (s % 2 === 0) {
        data.all([0, 0x41]);
        data.s32((s / 2) * per);
        data.byte(0x0b);
      } else data.byte(1);
      data.u32(per);
      data.bytes(bytes);
    }
    section(out, 11, data);
  }
  const names = new Bytes();
  names.all([4, ...Buffer.from('name')]);
  const fn = new Bytes();
  const named = Math.min(n, 5000);
  fn.u32(named);
  for (let i = 0; i < named; i++) {
    const nm = Buffer.from(`fn_${i}`);
    fn.u32(i);
    fn.u32(nm.length);
    fn.all(nm);
  }
  names.byte(1);
  names.u32(fn.size());
  names.append(fn);
  section(out, 0, names);
  return out.result();
}

/** Many small functions, about `mb` megabytes of code. */
export function smallFuncs(mb, seed = 1) {
  const r = rng(seed);
  const total = Math.ceil(mb * 1e6);
  return assemble({ funcs: 1e9, codeTarget: total, seed, makeBody: (i) => body(r, 2 + Math.floor(r() * 6), 2, Math.max(1, i), i) });
}

/** `count` functions of about `mb / count` megabytes each. */
export function hugeFuncs(mb, count = 8, seed = 2) {
  const r = rng(seed);
  const per = Math.ceil((mb * 1e6) / count);
  return assemble({
    funcs: count,
    seed,
    makeBody: (i) => {
      const b = new Bytes();
      b.all([3, 3, I32, 1, I64, 1, F64]);
      while (b.size() < per) statements(b, r, 64, 4, count, i);
      b.all([0x20, 2, 0x20, 3, 0x73, 0x0b]);
      return b;
    },
  });
}

/** `dataMb` of data segments and about `codeMb` of small functions. */
export function bigData(dataMb, codeMb = 2, seed = 3) {
  const r = rng(seed);
  return assemble({
    funcs: 1e9,
    codeTarget: Math.ceil(codeMb * 1e6),
    dataBytes: Math.ceil(dataMb * 1e6),
    seed,
    makeBody: (i) => body(r, 3 + Math.floor(r() * 6), 2, Math.max(1, i), i),
  });
}

/**
 * `module` with its function bodies repeated until the code section holds at least `mb`
 * megabytes. The copies are new functions nothing exports or calls (so the instrumenter threads
 * the fuel through them, as for a compiled program's internal functions); everything else stays.
 */
export function tiled(module, mb) {
  let pos = 8;
  const secs = [];
  while (pos < module.length) {
    const id = module[pos++];
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = module[pos++];
      size |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    secs.push({ id, start: pos, end: pos + size });
    pos += size;
  }
  const vec = (s) => {
    let p = s.start;
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = module[p++];
      n |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    return { n, items: module.subarray(p, s.end) };
  };
  const code = vec(secs.find((s) => s.id === 10));
  const funcs = vec(secs.find((s) => s.id === 3));
  const copies = Math.max(1, Math.ceil((mb * 1e6) / code.items.length));
  const out = new Bytes();
  out.bytes(module.subarray(0, 8));
  for (const s of secs) {
    if (s.id !== 3 && s.id !== 10) {
      out.byte(s.id);
      out.u32(s.end - s.start);
      out.bytes(module.subarray(s.start, s.end));
      continue;
    }
    const v = s.id === 3 ? funcs : code;
    const payload = new Bytes();
    payload.u32(v.n * copies);
    for (let c = 0; c < copies; c++) payload.bytes(v.items);
    out.byte(s.id);
    out.u32(payload.size());
    out.append(payload);
  }
  return out.result();
}

export { leb };
