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
 */

/** Flag on an input offset: the stretch maps as a whole onto that one offset. */
const EXACT = 0x80000000;
/** Input value of an entry that ends the guest's code (what follows is bext's own). */
const NOT_GUEST = 0xffffffff;

export interface OffsetMap {
  /** Output offsets (module-relative), ascending; the start of each stretch. */
  readonly out: Uint32Array;
  /** Per stretch: input offset, `| EXACT` for an inserted stretch, or NOT_GUEST. */
  readonly input: Uint32Array;
}

/** Collects stretches in output order; grows by doubling (a rewrite records a few per edit). */
export class OffsetMapBuilder {
  private out = new Uint32Array(1024);
  private input = new Uint32Array(1024);
  private n = 0;
  /** First entry of the body being recorded (its offsets are body-relative until placed). */
  private bodyFrom = 0;

  private push(out: number, input: number): void {
    const n = this.n;
    // A stretch that turned out empty is replaced by the one that starts where it did.
    if (n > this.bodyFrom && this.out[n - 1] === out) {
      this.input[n - 1] = input;
      return;
    }
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
    const n = this.n;
    if (n > this.bodyFrom) {
      const prev = this.input[n - 1]!;
      // Continues the previous copied stretch: nothing to record.
      if ((prev & EXACT) === 0 && prev !== NOT_GUEST && out - this.out[n - 1]! === input - prev) return;
    }
    this.push(out, input);
  }

  /** Output from `out` on is code bext inserted before the input instruction at `input`. */
  inserted(out: number, input: number): void {
    this.push(out, (input | EXACT) >>> 0);
  }

  /** Output from `out` on is not the guest's code. */
  end(out: number): void {
    this.bodyFrom = this.n;
    this.push(out, NOT_GUEST);
  }

  /** Starts a function body: what is recorded next has offsets relative to the body's start. */
  beginBody(): void {
    this.bodyFrom = this.n;
  }

  /** The body starts at `at` in the code section: moves its entries there. */
  placeBody(at: number): void {
    for (let i = this.bodyFrom; i < this.n; i++) this.out[i] += at;
    this.bodyFrom = this.n;
  }

  /**
   * The finished map, every output offset moved by `shift` (where the code section landed). Views
   * of the builder's arrays, not copies (a big module's map is megabytes); the builder is done.
   */
  finish(shift: number): OffsetMap {
    const out = this.out.subarray(0, this.n);
    for (let i = 0; i < out.length; i++) out[i] += shift;
    return { out, input: this.input.subarray(0, this.n) };
  }
}

/**
 * The input offset of the instruction at `outOffset` in the instrumented module, or undefined
 * when that offset is not in the guest's code (bext's own functions, or outside the code section).
 */
export function inputOffset(map: OffsetMap, outOffset: number): number | undefined {
  const { out, input } = map;
  // Last stretch starting at or before outOffset.
  let lo = 0;
  let hi = out.length - 1;
  if (hi < 0 || outOffset < out[0]!) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (out[mid]! <= outOffset) lo = mid;
    else hi = mid - 1;
  }
  const v = input[lo]!;
  if (v === NOT_GUEST) return undefined;
  if (v >= EXACT) return v - EXACT;
  return v + (outOffset - out[lo]!);
}

const MAGIC = 0x6d78_6562; // "bexm" little-endian

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Bytes for the on-disk cache: magic, count, then the two arrays (little-endian u32), as pieces
 * to write one after the other. On a little-endian machine the arrays are views of the map's
 * own, so saving a big module's map copies nothing.
 */
export function encodeOffsetMap(map: OffsetMap): Uint8Array[] {
  const n = map.out.length;
  const header = new Uint8Array(8);
  const view = new DataView(header.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, n, true);
  if (LITTLE_ENDIAN) {
    const bytesOf = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    return [header, bytesOf(map.out), bytesOf(map.input)];
  }
  const arrays = new Uint8Array(n * 8);
  const av = new DataView(arrays.buffer);
  for (let i = 0; i < n; i++) {
    av.setUint32(i * 4, map.out[i]!, true);
    av.setUint32(n * 4 + i * 4, map.input[i]!, true);
  }
  return [header, arrays];
}

/**
 * The map encodeOffsetMap wrote, or undefined when the bytes are not one. The arrays are views
 * of `bytes` where alignment allows (a map of a big module is megabytes; a trap should not copy it).
 */
export function decodeOffsetMap(bytes: Uint8Array): OffsetMap | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  const n = view.getUint32(4, true);
  if (bytes.length !== 8 + n * 8) return undefined;
  if (LITTLE_ENDIAN && (bytes.byteOffset + 8) % 4 === 0) {
    return { out: new Uint32Array(bytes.buffer, bytes.byteOffset + 8, n), input: new Uint32Array(bytes.buffer, bytes.byteOffset + 8 + n * 4, n) };
  }
  const out = new Uint32Array(n);
  const input = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = view.getUint32(8 + i * 4, true);
    input[i] = view.getUint32(8 + n * 4 + i * 4, true);
  }
  return { out, input };
}
