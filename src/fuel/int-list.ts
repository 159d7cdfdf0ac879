/**
 * Growable lists of small integers over typed arrays: the body rewriter's scratch (edits, segments,
 * events, open frames). One set of lists is reused for every body of a module, so a module of
 * hundreds of thousands of functions allocates them once, and emptying one is a store of its
 * length rather than a call into the engine (`array.length = 0` is one on plain arrays). A
 * multi-megabyte body needs millions of entries: four bytes each (one for flags and kinds) instead
 * of a plain array's eight, and no copy left behind for the collector when one grows.
 *
 * IntList and ByteList are written out twice on purpose: one class over either array type would
 * make every `push` and index in the rewriter's loops see two element kinds, and V8 then compiles
 * them polymorphic; two classes keep each site to one.
 */

/** A list of int32 values. */
export class IntList {
  a: Int32Array;
  /** Number of entries. */
  n = 0;
  constructor(capacity = 64) {
    this.a = new Int32Array(capacity);
  }

  push(v: number): void {
    if (this.n === this.a.length) this.a = grown(this.a, new Int32Array(this.a.length * 2));
    this.a[this.n++] = v;
  }

  pop(): number {
    return this.a[--this.n]!;
  }

  /** The last entry. */
  top(): number {
    return this.a[this.n - 1]!;
  }

  /** Makes the list `n` entries long, every one `v`. */
  reset(n: number, v: number): void {
    if (n > this.a.length) this.a = new Int32Array(Math.max(n, this.a.length * 2));
    fill(this.a, v, n);
    this.n = n;
  }
}

/** A list of bytes (flags, kinds). */
export class ByteList {
  a: Uint8Array;
  n = 0;
  constructor(capacity = 64) {
    this.a = new Uint8Array(capacity);
  }

  push(v: number): void {
    if (this.n === this.a.length) this.a = grown(this.a, new Uint8Array(this.a.length * 2));
    this.a[this.n++] = v;
  }

  pop(): number {
    return this.a[--this.n]!;
  }

  top(): number {
    return this.a[this.n - 1]!;
  }

  reset(n: number, v: number): void {
    if (n > this.a.length) this.a = new Uint8Array(Math.max(n, this.a.length * 2));
    fillBytes(this.a, v, n);
    this.n = n;
  }
}

function grown<T extends Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

// Most bodies are small: a short loop beats the call into TypedArray.prototype.fill, which costs
// more than filling a few dozen entries (one function of each, each site monomorphic).
function fill(a: Int32Array, v: number, n: number): void {
  if (n > 64) a.fill(v, 0, n);
  else for (let i = 0; i < n; i++) a[i] = v;
}

function fillBytes(a: Uint8Array, v: number, n: number): void {
  if (n > 64) a.fill(v, 0, n);
  else for (let i = 0; i < n; i++) a[i] = v;
}
