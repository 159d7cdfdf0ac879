/**
 * Byte-level reading and writing of the WebAssembly binary format (LEB128, names, vectors).
 * Shared by the module-info parser and the fuel instrumenter, which works directly on bytes so the
 * operator stream it meters is exactly the one the guest's compiler emitted.
 */
import { WasmFormatError, invalid, truncated } from './errors.js';

const LENIENT = new TextDecoder('utf-8', { fatal: false });
const STRICT = new TextDecoder('utf-8', { fatal: true });
const ENCODER = new TextEncoder();

/** Sequential reader over a byte range; `end` bounds every read so a lying size is caught. */
export class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start = 0, public end = buf.length) {
    this.pos = start;
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw truncated('a byte', this.pos);
    return this.buf[this.pos++]!;
  }

  /** Unsigned LEB128 up to 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw truncated('an integer', this.pos);
      const b = this.buf[this.pos++]!;
      if (shift === 28 && b > 0x0f) throw invalid(`integer too large at byte 0x${(this.pos - 1).toString(16)}`);
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /** Skips a signed or unsigned LEB128 of at most `maxBytes` bytes. */
  skipLeb(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) throw truncated('an integer', this.pos);
      if ((this.buf[this.pos++]! & 0x80) === 0) return;
    }
    throw invalid(`integer too long at byte 0x${this.pos.toString(16)}`);
  }

  /** Signed LEB128 up to 32 bits (i32.const immediates). */
  s32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      if (this.pos >= this.end) throw truncated('an integer', this.pos);
      b = this.buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (b & 0x80) throw invalid(`integer too long at byte 0x${this.pos.toString(16)}`);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result | 0;
  }

  skip(n: number, what: string): void {
    if (this.pos + n > this.end) throw truncated(what, this.pos);
    this.pos += n;
  }

  /** A name; bytes that are not UTF-8 become U+FFFD (engines ignore a bad name section too). */
  name(): string {
    const len = this.u32();
    const start = this.pos;
    this.skip(len, 'a name');
    return LENIENT.decode(this.buf.subarray(start, start + len));
  }

  /** A name that must be UTF-8 (imports and exports, which V8 rejects otherwise). */
  strictName(): string {
    const len = this.u32();
    const start = this.pos;
    this.skip(len, 'a name');
    try {
      return STRICT.decode(this.buf.subarray(start, start + len));
    } catch {
      throw new WasmFormatError('invalid', `invalid: the name at byte 0x${start.toString(16)} is not UTF-8`);
    }
  }
}

/** Growable output buffer. */
export class Writer {
  buf: Uint8Array;
  len = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    this.reserve(cap);
  }

  /**
   * Makes room for `capacity` bytes in all. For a big output whose final size the caller can
   * estimate: growing to that size once costs one copy, where doubling could hold twice the size.
   */
  reserve(capacity: number): void {
    if (capacity <= this.buf.length) return;
    const next = new Uint8Array(capacity);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Appends `src[from, to)`; short ranges byte by byte (no view object per call). */
  range(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    if (n > 32) this.buf.set(src.subarray(from, to), this.len);
    else for (let i = 0; i < n; i++) this.buf[this.len + i] = src[from + i]!;
    this.len += n;
  }

  /** Appends its own bytes [from, to), which lie before `len` (within one buffer: no view object). */
  again(from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    const buf = this.buf;
    // A few bytes go faster one by one than through the call into copyWithin.
    if (n <= 16) for (let i = 0; i < n; i++) buf[this.len + i] = buf[from + i]!;
    else buf.copyWithin(this.len, from, to);
    this.len += n;
  }

  u32(v: number): void {
    this.ensure(5);
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
  }

  /** Signed LEB128 for any bigint-representable 64-bit value. */
  s64(v: bigint): void {
    this.ensure(10);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
      this.buf[this.len++] = done ? b : b | 0x80;
      if (done) return;
    }
  }

  /** Signed LEB128 of a safe integer (fast path used for fuel constants). */
  sNum(v: number): void {
    if (v >= -0x40 && v < 0x40) {
      this.byte(v & 0x7f);
      return;
    }
    if (v !== (v | 0)) {
      this.s64(BigInt(v));
      return;
    }
    // An int32 (every charge and check offset in practice): s64's encoding, without a BigInt per step.
    this.ensure(5);
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.buf[this.len++] = done ? b : b | 0x80;
      if (done) return;
    }
  }

  name(s: string): void {
    const b = ENCODER.encode(s);
    this.u32(b.length);
    this.bytes(b);
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

export function u32Size(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
