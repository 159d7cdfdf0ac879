/**
 * Hook calls as bytes: how a batch of calls is laid out in memory the main thread shares with a
 * plugin's worker (call-channel.ts), so a batch crosses threads without a structured clone and
 * the worker copies each argument straight from the shared bytes into guest memory, with no
 * string decoding or re-encoding on its side. What the guest receives is unchanged: each string
 * argument is the same UTF-8 bytes, passed as (ptr, len) as docs/abi.md says.
 *
 * A batch is a sequence of records, one per call, each starting 8-byte aligned (so is the area):
 *   +0   f64  budget
 *   +8   i32  hook index (HOOK_NAMES)
 *   +12  i32  byte length of string 0 (0 when the hook takes none)
 *   +16  i32  byte length of string 1 (0 when the hook takes fewer than two)
 *   +20  i32  trailing i32 (on_cache_invalidate's count, else 0)
 *   +24  the strings' UTF-8 bytes, back to back; the next record starts at the next multiple of 8
 * so a batch can stop at any call: the writer fills the area with as many calls as fit.
 *
 * A run of on_request_complete events that follow each other in the event log (event-log.ts) is
 * one record of no bytes: string 0's length is LOGGED, string 1's the number of events, the
 * trailing i32 the first one's slot; the reader makes each event's JSON from its slot.
 */
import { HOOK_NAMES, type HookName } from '../config/types.js';
import { nextInLog, slotOf, type EventLogReader } from './event-log.js';
import type { HookArgs, QueuedCall } from './types.js';

const LOGGED = -1;
const EVENT_HOOK = HOOK_NAMES.indexOf('on_request_complete');

const HEAD_BYTES = 24;
const NO_TAIL: number[] = [];
const EMPTY = new Uint8Array(0);

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

/** How many strings a hook takes. */
function stringCount(hook: HookName): number {
  if (hook === 'on_cache_write') return 2;
  return hook === 'on_request_complete' || hook === 'on_cache_invalidate' || hook === 'on_server_start' ? 1 : 0;
}

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

/**
 * Writes `text` at `at` of `area` (a Buffer over the call area: its utf8 write needs no view per
 * string, and writes the same bytes as TextEncoder, a lone surrogate as U+FFFD); the number of
 * bytes written, or -1 when it does not fit.
 */
function writeString(text: string, area: Buffer, at: number): number {
  if (text.length === 0) return 0;
  // At least one byte per UTF-16 unit, at most three: only in between are the bytes counted.
  if (at + text.length > area.length) return -1;
  if (at + text.length * 3 > area.length && at + utf8Length(text) > area.length) return -1;
  return area.write(text, at, 'utf8');
}

/** Where the record after one at `at` with `bytes` string bytes starts. */
function nextRecord(at: number, bytes: number): number {
  return (at + HEAD_BYTES + bytes + 7) & ~7;
}

/**
 * Writes as many of `args` (with their budgets), from the first, as fit into `area`; returns how
 * many it wrote (0 when not even the first fits: the caller sends it another way).
 */
export function encodeCalls(args: readonly QueuedCall[], budgets: readonly number[], callArea: Uint8Array): number {
  if (callArea.byteOffset % 8 !== 0) throw new Error('internal: a call area must be 8-byte aligned');
  const area = Buffer.from(callArea.buffer, callArea.byteOffset, callArea.length);
  const f64 = new Float64Array(area.buffer, area.byteOffset, area.length >> 3);
  const i32 = new Int32Array(area.buffer, area.byteOffset, area.length >> 2);
  let at = 0;
  for (let k = 0; k < args.length; k++) {
    if (at + HEAD_BYTES > area.length) return k;
    const a = args[k]!;
    if (typeof a === 'number') {
      // The run of events that follow it in the log (with the same budget) goes in this record.
      let end = k + 1;
      while (end < args.length && typeof args[end] === 'number' && nextInLog(args[end - 1] as number, args[end] as number) && budgets[end] === budgets[k]) end++;
      f64[at >> 3] = budgets[k]!;
      const h = (at >> 2) + 2;
      i32[h] = EVENT_HOOK;
      i32[h + 1] = LOGGED;
      i32[h + 2] = end - k;
      i32[h + 3] = slotOf(a);
      at = nextRecord(at, 0);
      k = end - 1;
      continue;
    }
    const s = at + HEAD_BYTES;
    let len0 = 0;
    let len1 = 0;
    let count = 0;
    switch (a.hook) {
      case 'on_request_complete':
        len0 = writeString(a.eventJson, area, s);
        break;
      case 'on_cache_write':
        len0 = writeString(a.key, area, s);
        len1 = len0 < 0 ? -1 : writeString(a.tagsJson, area, s + len0);
        break;
      case 'on_cache_invalidate':
        len0 = writeString(a.pattern, area, s);
        count = a.count | 0;
        break;
      case 'on_server_start':
        len0 = writeString(a.configJson, area, s);
        break;
      default:
        break;
    }
    if (len0 < 0 || len1 < 0) return k;
    f64[at >> 3] = budgets[k]!;
    const h = (at >> 2) + 2;
    i32[h] = HOOK_NAMES.indexOf(a.hook);
    i32[h + 1] = len0;
    i32[h + 2] = len1;
    i32[h + 3] = count;
    at = nextRecord(at, len0 + len1);
  }
  return args.length;
}

/**
 * Reads the first n calls encodeCalls wrote, in order; each call's views are valid until `area`
 * is written again. Throws, naming the call, on a hook index or length no encoder writes.
 */
export function readCalls(area: Uint8Array, n: number, events?: EventLogReader): { next(): EncodedCall } {
  const f64 = new Float64Array(area.buffer, area.byteOffset, area.length >> 3);
  const i32 = new Int32Array(area.buffer, area.byteOffset, area.length >> 2);
  let k = 0;
  let at = 0;
  // The run of logged events being read: next slot, how many are left, their budget.
  let slot = 0;
  let left = 0;
  let budget = 0;
  // One call object for every logged event, refilled: its views are only valid until the next
  // call is read anyway, and a batch reads hundreds of them (each new object is garbage at once).
  const loggedStrings: Uint8Array[] = [EMPTY];
  const loggedCall: EncodedCall = { hook: 'on_request_complete', budget: 0, strings: loggedStrings, tail: NO_TAIL };
  const logged = (): EncodedCall => {
    loggedStrings[0] = events!.json(slot);
    loggedCall.budget = budget;
    slot = (slot + 1) % events!.slots;
    left--;
    k++;
    return loggedCall;
  };
  return {
    next(): EncodedCall {
      if (k >= n) throw new Error(`internal: call ${k} read from a batch of ${n}`);
      if (left > 0) return logged();
      if (at + HEAD_BYTES > area.length) throw new Error(`internal: call ${k} of a batch starts at ${at}, past the area of ${area.length}`);
      const h = (at >> 2) + 2;
      const hook = HOOK_NAMES[i32[h]!];
      if (hook === undefined) throw new Error(`internal: call ${k} of a batch has unknown hook index ${i32[h]}`);
      if (i32[h + 1] === LOGGED && hook === 'on_request_complete') {
        const runLength = i32[h + 2]!;
        if (events === undefined || runLength < 1 || k + runLength > n) throw new Error(`internal: call ${k} of a batch names ${runLength} logged events`);
        slot = i32[h + 3]!;
        left = runLength;
        budget = f64[at >> 3]!;
        at = nextRecord(at, 0);
        return logged();
      }
      const count = stringCount(hook);
      const strings: Uint8Array[] = [];
      let s = at + HEAD_BYTES;
      for (let j = 0; j < count; j++) {
        const len = i32[h + 1 + j]!;
        if (len < 0 || s + len > area.length) throw new Error(`internal: call ${k} of a batch has string ${j} of ${len} bytes at ${s}, past the area of ${area.length}`);
        strings.push(area.subarray(s, s + len));
        s += len;
      }
      const call: EncodedCall = { hook, budget: f64[at >> 3]!, strings, tail: hook === 'on_cache_invalidate' ? [i32[h + 3]!] : NO_TAIL };
      at = nextRecord(at, s - at - HEAD_BYTES);
      k++;
      return call;
    },
  };
}
