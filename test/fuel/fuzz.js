// Seeded random modules from binaryen's `wasm-opt --translate-to-fuzz` (the pinned `binaryen` npm
// package), and a tiny reader for the exported functions' signatures (so each export can be called
// with typed arguments).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writer } from '../../dist/wasm/index.js';
import { runBinaryen } from '../helpers/binaryen.js';

// Only what bext accepts and Node 20's V8 runs: binaryen enables newer proposals (GC, exceptions,
// tail calls...) by default, so start from the MVP. Reference types stay out: the fuzzer's
// modules use them in ways V8 12 rejects; the hand-written vectors cover them.
export const FUZZ_FEATURES = [
  '--mvp-features', '--enable-multivalue', '--enable-bulk-memory', '--enable-sign-ext', '--enable-nontrapping-float-to-int',
  '--enable-mutable-globals', '--enable-simd',
];

/** Deterministic bytes for a seed (mulberry32). */
export function seedBytes(seed, n) {
  let a = seed >>> 0;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

/**
 * Tail calls, which Node 20 runs too (exception handling is left out: binaryen's generator needs
 * reference types for it and emits exnref code, which Node 20 does not run).
 */
export const TAIL_CALL_FEATURES = ['--enable-tail-call'];

/** Builds the module for `seed` in `dir` (binaryen flags `extra` added) and returns its bytes. */
export async function fuzzModule(dir, seed, size = 3000, extra = []) {
  const tag = extra.length ? `-${extra.join('').replace(/[^a-z]/g, '')}` : '';
  const input = path.join(dir, `seed-${seed}${tag}.dat`);
  const output = path.join(dir, `seed-${seed}${tag}.wasm`);
  await writeFile(input, seedBytes(seed, size));
  await runBinaryen('wasm-opt', [path.resolve(input), '--translate-to-fuzz', '--quiet', ...FUZZ_FEATURES, ...extra, '-o', path.resolve(output)]);
  return readFile(output);
}

function leb(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [result, pos];
  }
}

/** Exported functions with their parameter value types, in export order. */
export function exportedFunctions(buf) {
  const types = [];
  const funcTypes = [];
  const exports = [];
  let pos = 8;
  while (pos < buf.length) {
    const id = buf[pos++];
    let size;
    [size, pos] = leb(buf, pos);
    const end = pos + size;
    let p = pos;
    let n;
    if (id === 1) {
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        p++; // 0x60
        let np;
        [np, p] = leb(buf, p);
        const params = [...buf.subarray(p, p + np)];
        p += np;
        let nr;
        [nr, p] = leb(buf, p);
        p += nr;
        types.push(params);
      }
    } else if (id === 2) {
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        let l;
        [l, p] = leb(buf, p);
        p += l;
        [l, p] = leb(buf, p);
        p += l;
        const kind = buf[p++];
        if (kind === 0) {
          let t;
          [t, p] = leb(buf, p);
          funcTypes.push(t);
        } else if (kind === 1) {
          p++;
          const flags = buf[p++];
          [, p] = leb(buf, p);
          if (flags & 1) [, p] = leb(buf, p);
        } else if (kind === 2) {
          const flags = buf[p++];
          [, p] = leb(buf, p);
          if (flags & 1) [, p] = leb(buf, p);
        } else if (kind === 3) p += 2;
      }
    } else if (id === 3) {
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        let t;
        [t, p] = leb(buf, p);
        funcTypes.push(t);
      }
    } else if (id === 7) {
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        let l;
        [l, p] = leb(buf, p);
        const name = buf.subarray(p, p + l).toString('utf8');
        p += l;
        const kind = buf[p++];
        let idx;
        [idx, p] = leb(buf, p);
        if (kind === 0) exports.push({ name, params: types[funcTypes[idx]] ?? [] });
      }
    }
    pos = end;
  }
  return exports;
}

/** Deterministic arguments for a parameter list. */
export function argsFor(params, k) {
  return params.map((t, i) => {
    const v = (k * 7919 + i * 104729) % 1000;
    switch (t) {
      case 0x7f: return v - 500;
      case 0x7e: return BigInt(v) * 1000003n - 500n;
      case 0x7d: case 0x7c: return (v - 500) / 7;
      default: return null; // references; v128 cannot cross into JS at all
    }
  });
}

function lebBytes(v) {
  const w = new Writer(8);
  w.u32(v);
  return Buffer.from(w.result());
}

/**
 * The same module with every second function export removed (hangLimitInitializer stays), so more
 * functions are reachable only through calls from other functions.
 */
export function thinExports(buf) {
  const parts = [buf.subarray(0, 8)];
  let pos = 8;
  while (pos < buf.length) {
    const start = pos;
    const id = buf[pos++];
    let size;
    [size, pos] = leb(buf, pos);
    const end = pos + size;
    if (id !== 7) {
      parts.push(buf.subarray(start, end));
      pos = end;
      continue;
    }
    const [n, first] = leb(buf, pos);
    let p = first;
    const kept = [];
    let funcs = 0;
    for (let i = 0; i < n; i++) {
      const at = p;
      let l;
      [l, p] = leb(buf, p);
      const name = buf.subarray(p, p + l).toString('utf8');
      p += l;
      const kind = buf[p++];
      [, p] = leb(buf, p);
      const drop = kind === 0 && !name.startsWith('hang') && funcs++ % 2 === 1;
      if (!drop) kept.push(buf.subarray(at, p));
    }
    const payload = Buffer.concat([lebBytes(kept.length), ...kept]);
    parts.push(Buffer.from([7]), lebBytes(payload.length), payload);
    pos = end;
  }
  return Buffer.concat(parts);
}
