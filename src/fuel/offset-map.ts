/**
 * Where each byte of the instrumented code came from: the map from code offsets of the metered
 * module back to code offsets of the module the user built. Stack frames (V8's
 * `wasm-function[N]:0xOFF`), DWARF and `wasm-objdump` all speak module-relative byte offsets, and
 * only the input's mean anything to the user.
 *
 * The map is a sorted run list recorded while the body rewriter emits, one entry per stretch of
 * output: a *copied* stretch maps byte for byte onto the input (the rewriter copies whole
 * instructions; a renumbered local access whose index keeps its length counts as copied), an
 * *inserted* stretch (fuel charges, checks, write-backs, a renumbered local access that grew)
 * maps as a whole onto the input instruction it was placed before. So a frame inside
 * inserted code points at the guest instruction it guards. Code bext adds as functions of its
 * own (`bext_out_of_fuel`, `bext_start`) is not in the map.
 *
 * A big module's map has millions of stretches, so it is kept compact: in blocks of BLOCK
 * stretches, each block's first stretch as plain numbers in an index (for the binary search) and
 * the others as deltas from their predecessor in LEB128 bytes (about 3 bytes a stretch instead of
 * 8). Bodies are encoded as they are placed, so only the body being written is ever held as plain
 * numbers, and the byte stream grows by appending chunks, never by copying.
 */

/** Flag on an input offset: the stretch maps as a whole onto that one offset. */
const EXACT = 0x80000000;
/** Input value of an entry that ends the guest's code (what follows is bext's own). */
const NOT_GUEST = 0xffffffff;

/** Stretches per block: a lookup decodes at most this many. */
const BLOCK = 64;
/** Bytes per stream chunk while building; a block never spans two chunks. */
const CHUNK = 1 << 20;
/** Most bytes one block's deltas can take (two LEB128 numbers of up to 6 bytes each per stretch). */
const MAX_BLOCK_BYTES = (BLOCK - 1) * 12;

export interface OffsetMap {
  /** Number of stretches. */
  readonly count: number;
  /** Added to every output offset stored (where the code section landed in the module). */
  readonly shift: number;
  /** Per block: its first stretch's output offset (before `shift`), ascending. */
  readonly blockOut: Uint32Array;
  /** Per block: its first stretch's input value (offset, `| EXACT`, or NOT_GUEST). */
  readonly blockInput: Uint32Array;
  /** Per block: the chunk of `stream` holding its other stretches, and where in it they start. */
  readonly blockChunk: Uint32Array;
  readonly blockAt: Uint32Array;
  /** The deltas (see appendStretch). */
  readonly stream: readonly Uint8Array[];
}

/** A growable u32 list that never shrinks its backing store below what it held. */
class U32List {
  a = new Uint32Array(256);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.n * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  view(): Uint32Array {
    return this.a.subarray(0, this.n);
  }
}

/**
 * Collects stretches in output order. The body being written is held as plain numbers (its
 * offsets are body-relative until placed, and the last stretch may still be replaced); placing it
 * encodes its stretches into the compact form.
 */
export class OffsetMapBuilder {
  private out = new Uint32Array(1024);
  private input = new Uint32Array(1024);
  /** Stretches of the open body (or of none: then 0). */
  private n = 0;

  private count = 0;
  private readonly blockOut = new U32List();
  private readonly blockInput = new U32List();
  private readonly blockChunk = new U32List();
  private readonly blockAt = new U32List();
  private readonly chunks: Uint8Array[] = [];
  private chunk = new Uint8Array(0);
  private at = 0;
  /** The last stretch encoded: its output offset and its input offset (flag removed). */
  private lastOut = 0;
  private lastOffset = 0;

  private push(out: number, input: number): void {
    // (Its callers drop a stretch that turned out empty first: see dropEmpty.)
    const n = this.n;
    if (n === this.out.length) {
      const o = new Uint32Array(n * 2);
      o.set(this.out);
      this.out = o;
      const i = new Uint32Array(n * 2);
      i.set(this.input);
      this.input = i;
    }
    this.out[n] = out;
    this.input[n] = input;
    this.n = n + 1;
  }

  /** Output from `out` on is a copy of the input from `input` on. */
  copied(out: number, input: number): void {
    const n = this.dropEmpty(out);
    if (n > 0) {
      const prev = this.input[n - 1]!;
      // Continues the previous copied stretch: nothing to record.
      if ((prev & EXACT) === 0 && prev !== NOT_GUEST && out - this.out[n - 1]! === input - prev) return;
    }
    this.push(out, input);
  }

  /** Output from `out` on is code bext inserted before the input instruction at `input`. */
  inserted(out: number, input: number): void {
    const v = (input | EXACT) >>> 0;
    const n = this.dropEmpty(out);
    // Several edits at one instruction make one stretch.
    if (n > 0 && this.input[n - 1] === v) return;
    this.push(out, v);
  }

  /**
   * Drops the body's last stretch when it is empty (it starts at `out`: an edit that wrote
   * nothing), so that what follows can continue the stretch before it; returns the count left.
   */
  private dropEmpty(out: number): number {
    const n = this.n;
    if (n > 0 && this.out[n - 1] === out) this.n = n - 1;
    return this.n;
  }

  /** Output from `out` on is not the guest's code. */
  end(out: number): void {
    this.n = 0;
    this.append(out, NOT_GUEST);
  }

  /** Starts a function body: what is recorded next has offsets relative to the body's start. */
  beginBody(): void {
    this.n = 0;
  }

  /** The body starts at `at` in the code section: its stretches are final, encoded now. */
  placeBody(at: number): void {
    const n = this.n;
    const outs = this.out;
    const inputs = this.input;
    let i = 0;
    while (i < n) {
      if (this.count % BLOCK === 0) {
        this.append(outs[i]! + at, inputs[i]!);
        i++;
        continue;
      }
      // The rest of the current block, as append() encodes it, with its state in locals (a body
      // has no NOT_GUEST stretches; the block's room in its chunk was made at its start).
      const stop = Math.min(n, i + BLOCK - (this.count % BLOCK));
      const chunk = this.chunk;
      let p = this.at;
      let lastOut = this.lastOut;
      let lastOffset = this.lastOffset;
      this.count += stop - i;
      for (; i < stop; i++) {
        const out = outs[i]! + at;
        const input = inputs[i]!;
        const offset = (input & ~EXACT) >>> 0;
        const d = out - lastOut;
        if (d < 0x80) chunk[p++] = d;
        else p = writeLeb(chunk, p, d);
        const step = offset - lastOffset;
        const v = (step >= 0 ? step * 2 : -step * 2 - 1) * 4 + (input >= EXACT ? 1 : 0);
        if (v < 0x80) chunk[p++] = v;
        else p = writeLeb(chunk, p, v);
        lastOut = out;
        lastOffset = offset;
      }
      this.at = p;
      this.lastOut = lastOut;
      this.lastOffset = lastOffset;
    }
    this.n = 0;
  }

  /** Encodes one final stretch (output offsets ascend across calls). */
  private append(out: number, input: number): void {
    const k = this.count++;
    const first = k % BLOCK === 0;
    // A block starts from nothing: a lookup decodes it alone.
    const offset = input !== NOT_GUEST ? (input & ~EXACT) >>> 0 : first ? 0 : this.lastOffset;
    if (first) {
      if (this.chunk.length - this.at < MAX_BLOCK_BYTES) {
        this.chunk = new Uint8Array(CHUNK);
        this.chunks.push(this.chunk);
        this.at = 0;
      }
      this.blockOut.push(out);
      this.blockInput.push(input);
      this.blockChunk.push(this.chunks.length - 1);
      this.blockAt.push(this.at);
    } else {
      // The output offset's step, then the input offset's step (zigzag, so it may go back) times
      // four plus the stretch's kind (0 copied, 1 inserted, 2 not the guest's).
      this.at = writeLeb(this.chunk, this.at, out - this.lastOut);
      const step = offset - this.lastOffset;
      const kind = input === NOT_GUEST ? 2 : input >= EXACT ? 1 : 0;
      this.at = writeLeb(this.chunk, this.at, (step >= 0 ? step * 2 : -step * 2 - 1) * 4 + kind);
    }
    this.lastOut = out;
    this.lastOffset = offset;
  }

  /** The finished map, every output offset moved by `shift` (where the code section landed). */
  finish(shift: number): OffsetMap {
    const last = this.chunks.length - 1;
    const stream = this.chunks.map((c, i) => (i === last ? c.subarray(0, this.at) : c));
    return {
      count: this.count,
      shift,
      blockOut: this.blockOut.view(),
      blockInput: this.blockInput.view(),
      blockChunk: this.blockChunk.view(),
      blockAt: this.blockAt.view(),
      stream,
    };
  }
}

/** Writes `v` (a non-negative integer below 2^53) as unsigned LEB128 at `at`; returns the end. */
function writeLeb(buf: Uint8Array, at: number, v: number): number {
  if (v < 0x80000000) {
    // Nearly every step fits in 31 bits: integer shifts instead of float division.
    while (v >= 0x80) {
      buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[at++] = v;
    return at;
  }
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/** Where the last readLeb ended (a module variable: lookups decode millions of numbers). */
let lebEnd = 0;

/**
 * The unsigned LEB128 number at `at` (sets lebEnd), or -1 when it runs past the bytes: a damaged
 * cache file ends the walk rather than reading past the stream.
 */
function readLeb(bytes: Uint8Array, at: number): number {
  let v = 0;
  let scale = 1;
  for (;;) {
    if (at >= bytes.length) return -1;
    const byte = bytes[at++]!;
    v += (byte & 0x7f) * scale;
    scale *= 0x80;
    if (byte < 0x80) break;
  }
  lebEnd = at;
  return v;
}

/**
 * Calls `each(out, input)` for the stretches of block `b` in order, while it returns true;
 * `out` has the map's shift added.
 */
function walkBlock(map: OffsetMap, b: number, each: (out: number, input: number) => boolean): void {
  let out = map.blockOut[b]!;
  let input = map.blockInput[b]!;
  let offset = input === NOT_GUEST ? 0 : (input & ~EXACT) >>> 0;
  if (!each(out + map.shift, input)) return;
  const bytes = map.stream[map.blockChunk[b]!]!;
  let at = map.blockAt[b]!;
  const n = Math.min(BLOCK, map.count - b * BLOCK);
  for (let i = 1; i < n; i++) {
    const step = readLeb(bytes, at);
    if (step < 0) return;
    at = lebEnd;
    out += step;
    const v = readLeb(bytes, at);
    if (v < 0) return;
    at = lebEnd;
    const kind = v % 4;
    const z = Math.floor(v / 4);
    offset += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    input = kind === 2 ? NOT_GUEST : kind === 1 ? (offset | EXACT) >>> 0 : offset;
    if (!each(out + map.shift, input)) return;
  }
}

/**
 * The input offset of the instruction at `outOffset` in the instrumented module, or undefined
 * when that offset is not in the guest's code (bext's own functions, or outside the code section).
 */
export function inputOffset(map: OffsetMap, outOffset: number): number | undefined {
  const target = outOffset - map.shift;
  const firsts = map.blockOut;
  // Last block starting at or before the target, then its last stretch that does.
  let lo = 0;
  let hi = firsts.length - 1;
  if (hi < 0 || target < firsts[0]!) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (firsts[mid]! <= target) lo = mid;
    else hi = mid - 1;
  }
  let startOut = 0;
  let value = 0;
  walkBlock(map, lo, (out, input) => {
    if (out > outOffset) return false;
    startOut = out;
    value = input;
    return true;
  });
  if (value === NOT_GUEST) return undefined;
  if (value >= EXACT) return value - EXACT;
  return value + (outOffset - startOut);
}

/** Every stretch as plain numbers: output offsets (shift added) and input values (for tools). */
export function offsetMapEntries(map: OffsetMap): { out: Uint32Array; input: Uint32Array } {
  const out = new Uint32Array(map.count);
  const input = new Uint32Array(map.count);
  let k = 0;
  for (let b = 0; b < map.blockOut.length; b++) {
    walkBlock(map, b, (o, i) => {
      out[k] = o;
      input[k++] = i;
      return true;
    });
  }
  return { out, input };
}

const MAGIC = 0x6e78_6562; // "bexn" little-endian

/**
 * Bytes for the on-disk cache, as pieces to write one after the other: a header (magic, count,
 * shift, blocks, stream length), the four block arrays (little-endian u32; a block's place is
 * rewritten as a position in the one stream the file holds), then the stream's chunks as they are.
 */
export function encodeOffsetMap(map: OffsetMap): Uint8Array[] {
  const blocks = map.blockOut.length;
  const chunkStart: number[] = [];
  let total = 0;
  for (const c of map.stream) {
    chunkStart.push(total);
    total += c.length;
  }
  const header = new Uint8Array(20);
  const view = new DataView(header.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, map.count, true);
  view.setUint32(8, map.shift, true);
  view.setUint32(12, blocks, true);
  view.setUint32(16, total, true);
  const arrays = new Uint8Array(blocks * 12);
  const av = new DataView(arrays.buffer);
  for (let b = 0; b < blocks; b++) {
    av.setUint32(b * 4, map.blockOut[b]!, true);
    av.setUint32(blocks * 4 + b * 4, map.blockInput[b]!, true);
    av.setUint32(blocks * 8 + b * 4, chunkStart[map.blockChunk[b]!]! + map.blockAt[b]!, true);
  }
  return [header, arrays, ...map.stream];
}

/** The map encodeOffsetMap wrote, or undefined when the bytes are not one. */
export function decodeOffsetMap(bytes: Uint8Array): OffsetMap | undefined {
  if (bytes.length < 20) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  const count = view.getUint32(4, true);
  const shift = view.getUint32(8, true);
  const blocks = view.getUint32(12, true);
  const total = view.getUint32(16, true);
  if (blocks !== Math.ceil(count / BLOCK) || bytes.length !== 20 + blocks * 12 + total) return undefined;
  const blockOut = new Uint32Array(blocks);
  const blockInput = new Uint32Array(blocks);
  const blockAt = new Uint32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    blockOut[b] = view.getUint32(20 + b * 4, true);
    blockInput[b] = view.getUint32(20 + blocks * 4 + b * 4, true);
    const at = view.getUint32(20 + blocks * 8 + b * 4, true);
    // A damaged file must not send a lookup outside the stream.
    if (at > total) return undefined;
    blockAt[b] = at;
  }
  const stream = new Uint8Array(bytes.buffer, bytes.byteOffset + 20 + blocks * 12, total);
  return { count, shift, blockOut, blockInput, blockChunk: new Uint32Array(blocks), blockAt, stream: [stream] };
}
