/**
 * Hook calls as bytes: how a batch of calls is laid out in memory the main thread shares with a
 * plugin's worker (call-channel.ts), so a batch crosses threads without a structured clone and
 * the worker copies each argument straight from the shared bytes into guest memory, with no
 * string decoding or re-encoding on its side. What the guest receives is unchanged: each string
 * argument is the same UTF-8 bytes, passed as (ptr, len) as docs/abi.md says.
 *
 * Layout of a batch of n calls (the area must be 8-byte aligned):
 *   bytes [0, 8n)          f64 budget of call k at 8k
 *   bytes [8n, 24n)        four i32 per call at 8n + 16k: hook index (HOOK_NAMES), byte length
 *                          of string 0, of string 1 (0 when the hook has fewer), trailing i32
 *   bytes [24n, …)         the calls' strings, back to back, in call order
 */
import { HOOK_NAMES, type HookName } from '../config/types.js';
import type { HookArgs } from './types.js';

const HEAD_BYTES = 24;
const NO_TAIL: number[] = [];

/** One call as the worker reads it: argument strings stay UTF-8 bytes (views, valid until the area is rewritten). */
export interface EncodedCall {
  hook: HookName;
  budget: number;
  strings: Uint8Array[];
  /** Trailing i32 parameters (on_cache_invalidate's count). */
  tail: number[];
}

/** The strings a hook passes to the guest, in ABI order, and its trailing i32 (cache invalidation count). */
export function hookStrings(a: HookArgs): { strings: string[]; count: number } {
  switch (a.hook) {
    case 'on_request_complete':
      return { strings: [a.eventJson], count: 0 };
    case 'on_cache_write':
      return { strings: [a.key, a.tagsJson], count: 0 };
    case 'on_cache_invalidate':
      return { strings: [a.pattern], count: a.count | 0 };
    case 'on_server_start':
      return { strings: [a.configJson], count: 0 };
    default:
      return { strings: [], count: 0 };
  }
}

/** How many strings a hook takes (hook index as in HOOK_NAMES). */
function stringCount(hook: HookName): number {
  if (hook === 'on_cache_write') return 2;
  return hook === 'on_request_complete' || hook === 'on_cache_invalidate' || hook === 'on_server_start' ? 1 : 0;
}

const encoder = new TextEncoder();

/** Bytes `text` takes as UTF-8, without encoding it. */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two UTF-16 units, four bytes.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** Writes `text` at `at`; the number of bytes written, or -1 when it does not fit. */
function writeString(text: string, area: Uint8Array, at: number): number {
  if (text.length === 0) return 0;
  // Worst case 3 bytes per UTF-16 unit; when even that fits, encodeInto never stops short.
  if (at + text.length * 3 > area.length && at + utf8Length(text) > area.length) return -1;
  return encoder.encodeInto(text, area.subarray(at)).written;
}

/**
 * Writes calls [0, n) of `args` (with their budgets) into `area`; returns the bytes used, or -1
 * when they do not fit (nothing useful was written; the caller sends them another way).
 */
export function encodeCalls(args: readonly HookArgs[], budgets: readonly number[], area: Uint8Array): number {
  const n = args.length;
  if (area.byteOffset % 8 !== 0) throw new Error('internal: a call area must be 8-byte aligned');
  let at = HEAD_BYTES * n;
  if (at > area.length) return -1;
  const f64 = new Float64Array(area.buffer, area.byteOffset, n);
  const i32 = new Int32Array(area.buffer, area.byteOffset + 8 * n, 4 * n);
  for (let k = 0; k < n; k++) {
    const a = args[k]!;
    f64[k] = budgets[k]!;
    const h = 4 * k;
    i32[h] = HOOK_NAMES.indexOf(a.hook);
    i32[h + 1] = 0;
    i32[h + 2] = 0;
    i32[h + 3] = 0;
    switch (a.hook) {
      case 'on_request_complete': {
        const w = writeString(a.eventJson, area, at);
        if (w < 0) return -1;
        i32[h + 1] = w;
        at += w;
        break;
      }
      case 'on_cache_write': {
        const w0 = writeString(a.key, area, at);
        if (w0 < 0) return -1;
        at += w0;
        const w1 = writeString(a.tagsJson, area, at);
        if (w1 < 0) return -1;
        at += w1;
        i32[h + 1] = w0;
        i32[h + 2] = w1;
        break;
      }
      case 'on_cache_invalidate': {
        const w = writeString(a.pattern, area, at);
        if (w < 0) return -1;
        i32[h + 1] = w;
        i32[h + 3] = a.count | 0;
        at += w;
        break;
      }
      case 'on_server_start': {
        const w = writeString(a.configJson, area, at);
        if (w < 0) return -1;
        i32[h + 1] = w;
        at += w;
        break;
      }
      default:
        break;
    }
  }
  return at;
}

/**
 * Reads the n calls encodeCalls wrote, in order; each call's views are valid until `area` is
 * written again. Throws, naming the call, on a hook index or length no encoder writes.
 */
export function readCalls(area: Uint8Array, n: number): { next(): EncodedCall } {
  const f64 = new Float64Array(area.buffer, area.byteOffset, n);
  const i32 = new Int32Array(area.buffer, area.byteOffset + 8 * n, 4 * n);
  let k = 0;
  let at = HEAD_BYTES * n;
  return {
    next(): EncodedCall {
      if (k >= n) throw new Error(`internal: call ${k} read from a batch of ${n}`);
      const h = 4 * k;
      const hook = HOOK_NAMES[i32[h]!];
      if (hook === undefined) throw new Error(`internal: call ${k} of a batch has unknown hook index ${i32[h]}`);
      const count = stringCount(hook);
      const strings: Uint8Array[] = [];
      for (let s = 0; s < count; s++) {
        const len = i32[h + 1 + s]!;
        if (len < 0 || at + len > area.length) throw new Error(`internal: call ${k} of a batch has string ${s} of ${len} bytes at ${at}, past the area of ${area.length}`);
        strings.push(area.subarray(at, at + len));
        at += len;
      }
      const call: EncodedCall = { hook, budget: f64[k]!, strings, tail: hook === 'on_cache_invalidate' ? [i32[h + 3]!] : NO_TAIL };
      k++;
      return call;
    },
  };
}
