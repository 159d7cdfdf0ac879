/**
 * The hot path of a hook call: the main thread writes the call (hook, budget, argument bytes)
 * into memory it shares with the plugin's worker and wakes it with `Atomics.notify`; the worker
 * writes the result (outcome, fuel, wall time, a short message) back and the main thread learns of
 * it through `Atomics.waitAsync`. No structured clone, no MessagePort dispatch on either side.
 *
 * Why the worker side blocks: measured on Node 20 (bench/hooks.bench.js), what a round trip costs
 * is mostly how the worker is woken. A worker woken through its event loop (a message, or
 * `Atomics.waitAsync`) pays about as much as the whole postMessage echo; a worker sleeping in a
 * synchronous `Atomics.wait` wakes straight from the futex. So after each call the worker sleeps
 * in `Atomics.wait` for the next one, up to HOT_WAIT_MS, and only then returns to its event loop
 * and parks in `Atomics.waitAsync` (an idle plugin costs no CPU and its loop runs normally).
 * While it sleeps its event loop does not turn, so every control message the main thread posts
 * (close, stats, batches, calls that go by message) also rings the bell with a mail mark: the
 * worker leaves its wait, returns to the loop, and the message is delivered as before.
 *
 * Everything that is not the hot path keeps using messages: arguments bigger than the buffer,
 * profiled calls, and results that carry more than the fixed fields (trap stacks and frames,
 * panics, profiles, long messages). A result also goes by message when the worker posted anything
 * (logs, metrics) since its last inline result, so that nothing it said overtakes the result.
 *
 * Protocol (Int32 words; ids are the host's call ids, increasing):
 *   BELL  +1 by the main thread for every call and every mail; the worker waits on it.
 *   MAIL  +1 by the main thread after it posts a control message.
 *   CALL  id of the call written into the buffer (main).
 *   DONE  id of the last call whose result is published (worker); the main thread waits on it.
 *   KIND  INLINE (the report is in the buffer) or POSTED (it follows as a 'result' message).
 */
import { performance } from 'node:perf_hooks';
import { HOOK_NAMES, type HookName } from '../config/types.js';
import type { CallReport } from './messages.js';
import { OUTCOMES, type HookArgs } from './types.js';

/** Total size of a channel's buffer; arguments must fit in it less the header. */
export const CHANNEL_BYTES = 64 * 1024;
/** How long a worker sleeps in a blocking wait for the next call before it parks in its event loop. */
export const HOT_WAIT_MS = 2;
/** Longest a worker serves calls without letting its event loop turn once. */
const SLICE_MS = 20;

const BELL = 0;
const MAIL = 1;
const CALL = 2;
const DONE = 3;
const KIND = 4;
const HOOK = 5;
const COUNT = 6;
/** Byte length of each argument string: LEN0 + k for string k (at most two). */
const LEN0 = 7;
const OUTCOME = 9;
const SKIPPED = 10;
const MSG_LEN = 11;
/** Float64 slots, after the words. */
const F64_AT = 64;
const BUDGET = 0;
const FUEL = 1;
const WALL = 2;
/** Argument bytes (main → worker) and then the result message (worker → main) share this area. */
const DATA_AT = 128;

const INLINE = 1;
const POSTED = 2;
/** Longest message a result may carry inline (bytes); longer ones go by message. */
const MAX_INLINE_MESSAGE = 1024;

/** Node 20 has Atomics.waitAsync; the TypeScript lib this project builds against does not declare it yet. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Views {
  i32: Int32Array;
  f64: Float64Array;
  data: Uint8Array;
}

function views(buffer: SharedArrayBuffer): Views {
  return { i32: new Int32Array(buffer, 0, F64_AT / 4), f64: new Float64Array(buffer, F64_AT, 3), data: new Uint8Array(buffer, DATA_AT) };
}

/** The strings a hook passes to the guest, in ABI order, and the trailing i32 (cache invalidation count). */
function hookStrings(a: HookArgs): { strings: string[]; count: number } {
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

/** The main thread's end of one worker's channel (a new worker gets a new channel). */
export interface MainChannel {
  readonly buffer: SharedArrayBuffer;
  /** Writes call `id` and wakes the worker; false when the arguments do not fit (send it by message). */
  post(id: number, args: HookArgs, budget: number): boolean;
  /**
   * Resolves once the worker published call `id`: its report when it came inline, null when it
   * travels as a 'result' message or the channel was released (the worker is gone).
   */
  result(id: number): Promise<CallReport | null>;
  /** After posting a control message: wakes a worker sleeping between calls so its event loop delivers it. */
  mail(): void;
  /** The worker is gone: ends any wait for a result (it resolves null). */
  release(): void;
}

export function createCallChannel(bytes = CHANNEL_BYTES): MainChannel {
  const buffer = new SharedArrayBuffer(bytes);
  const { i32, f64, data } = views(buffer);
  let released = false;
  const ring = (): void => {
    Atomics.add(i32, BELL, 1);
    Atomics.notify(i32, BELL);
  };
  return {
    buffer,
    post(id, args, budget) {
      const { strings, count } = hookStrings(args);
      let at = 0;
      for (let k = 0; k < strings.length; k++) {
        const s = strings[k]!;
        const r = encoder.encodeInto(s, data.subarray(at));
        if (r.read !== s.length) return false;
        i32[LEN0 + k] = r.written;
        at += r.written;
      }
      i32[HOOK] = HOOK_NAMES.indexOf(args.hook);
      i32[COUNT] = count;
      f64[BUDGET] = budget;
      // The store of CALL publishes everything written before it.
      Atomics.store(i32, CALL, id);
      ring();
      return true;
    },
    async result(id) {
      for (;;) {
        if (released) return null;
        const done = Atomics.load(i32, DONE);
        if (done === id) break;
        const w = waitAsync(i32, DONE, done);
        if (w.async) await w.value;
      }
      if (Atomics.load(i32, KIND) !== INLINE) return null;
      const report: CallReport = { outcome: OUTCOMES[i32[OUTCOME]!] ?? 'crashed', fuelUsed: f64[FUEL]!, wallUs: f64[WALL]! };
      const len = i32[MSG_LEN]!;
      if (len >= 0) report.message = decoder.decode(data.subarray(0, len));
      if (i32[SKIPPED] === 1) report.skipped = true;
      return report;
    },
    mail() {
      Atomics.add(i32, MAIL, 1);
      ring();
    },
    release() {
      released = true;
      // Wakes this thread's own waitAsync; the loop above sees `released`.
      Atomics.notify(i32, DONE);
    },
  };
}

/** One call as the worker reads it: the argument strings stay UTF-8 bytes (views into the shared buffer). */
export interface SharedCall {
  id: number;
  hook: HookName;
  budget: number;
  strings: Uint8Array[];
  /** Trailing i32 parameters (on_cache_invalidate's count). */
  tail: number[];
}

export interface CallServer {
  /** Runs the call; the argument views are valid only until it returns. */
  run(call: SharedCall): CallReport;
  /** Sends a report as a 'result' message (it does not fit inline, or messages went out before it). */
  postResult(id: number, report: CallReport): void;
  /** How many messages the worker has posted so far (a change means the result must follow them by message). */
  posted(): number;
}

/** Whether a report is only the fixed fields and a short message. */
function inlineable(r: CallReport): boolean {
  for (const key in r) {
    if (key !== 'outcome' && key !== 'fuelUsed' && key !== 'wallUs' && key !== 'message' && key !== 'skipped') return false;
  }
  return r.message === undefined || r.message.length <= MAX_INLINE_MESSAGE / 3;
}

/**
 * The worker's end: serves calls until stop(). Call it once the worker is ready; it returns at
 * once (the first wait is in the event loop).
 */
export function serveCalls(buffer: SharedArrayBuffer, server: CallServer, hotWaitMs = HOT_WAIT_MS): { stop(): void } {
  const { i32, f64, data } = views(buffer);
  // Ids start at 1: a call written before this runs (the host answers 'ready' at once) is still new.
  let last = 0;
  let seenMail = 0;
  let postedAt = server.posted();
  let stopped = false;

  const handle = (id: number): void => {
    const hook = HOOK_NAMES[i32[HOOK]!]!;
    const strings: Uint8Array[] = [];
    const n = hook === 'on_cache_write' ? 2 : hook === 'on_request_complete' || hook === 'on_server_start' || hook === 'on_cache_invalidate' ? 1 : 0;
    let at = 0;
    for (let k = 0; k < n; k++) {
      const len = i32[LEN0 + k]!;
      strings.push(data.subarray(at, at + len));
      at += len;
    }
    const tail = hook === 'on_cache_invalidate' ? [i32[COUNT]!] : [];
    const report = server.run({ id, hook, budget: f64[BUDGET]!, strings, tail });
    let kind = POSTED;
    // Anything posted since the last result (during this call, or a log flushed between calls) is
    // delivered before this result only if the result follows it on the same port.
    if (server.posted() === postedAt && inlineable(report)) {
      i32[OUTCOME] = OUTCOMES.indexOf(report.outcome);
      i32[SKIPPED] = report.skipped ? 1 : 0;
      f64[FUEL] = report.fuelUsed;
      f64[WALL] = report.wallUs;
      i32[MSG_LEN] = report.message === undefined ? -1 : encoder.encodeInto(report.message, data).written;
      kind = INLINE;
    } else {
      server.postResult(id, report);
      postedAt = server.posted();
    }
    i32[KIND] = kind;
    Atomics.store(i32, DONE, id);
    Atomics.notify(i32, DONE);
  };

  /** Parks in the event loop until the bell rings past `bell` (read before the last look for work, so no ring is missed). */
  const park = (bell: number): void => {
    if (stopped) return;
    const w = waitAsync(i32, BELL, bell);
    if (w.async) void w.value.then(drain);
    else setImmediate(drain);
  };

  /** Serves calls while they keep coming; returns to the event loop when idle, on mail, or after a slice. */
  const drain = (): void => {
    const sliceEnd = performance.now() + SLICE_MS;
    for (;;) {
      if (stopped) return;
      const bell = Atomics.load(i32, BELL);
      const id = Atomics.load(i32, CALL);
      if (id !== last) {
        last = id;
        handle(id);
        if (performance.now() > sliceEnd) {
          setImmediate(drain);
          return;
        }
        continue;
      }
      const mail = Atomics.load(i32, MAIL);
      if (mail !== seenMail) {
        seenMail = mail;
        park(bell);
        return;
      }
      if (Atomics.wait(i32, BELL, bell, hotWaitMs) === 'timed-out') {
        park(bell);
        return;
      }
    }
  };

  park(0);
  return {
    stop() {
      stopped = true;
    },
  };
}
