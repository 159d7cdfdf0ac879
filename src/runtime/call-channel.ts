/**
 * The hot path of hook calls: the main thread writes a call (hook, budget, argument bytes), or a
 * batch of calls (call-codec.ts), into memory it shares with the plugin's worker and wakes it with
 * `Atomics.notify`; the worker writes the result (outcome, fuel, wall time, a short message; for a
 * batch, each call's outcome goes to the batch progress buffer) back and the main thread learns of
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
 * Waking is still the largest cost (a futex wake one way, an event-loop wake the other), so each
 * side first looks again for a few microseconds: the worker for the next call after one, when
 * the caller answered its last result with this call that fast (WORKER_POLL_MS), and the main thread for the
 * result of a single call, while calls keep finishing that fast (HOST_POLL_MS) and it waits
 * for no other. Both stop by themselves when it does not pay (slow hooks, sparse calls, several
 * plugins busy at once, a machine with no core to spare), so an idle plugin still costs nothing;
 * LoadOptions.hookPoll turns both off.
 *
 * Everything that is not the hot path keeps using messages: arguments bigger than the buffer,
 * profiled calls, and results that carry more than the fixed fields (trap stacks and frames,
 * panics, profiles, long messages; a batch with a failed call). A result also goes by message
 * when the worker posted anything (logs, metrics) since its last inline result, so that nothing
 * it said overtakes the result.
 *
 * Protocol (Int32 words; ids are the host's call ids, increasing):
 *   BELL   +1 by the main thread for every call and every mail; the worker waits on it.
 *   MAIL   +1 by the main thread after it posts a control message.
 *   CALL   id of the call or batch written into the buffer (main).
 *   BATCH  0 for a single call, else how many calls the batch has (main).
 *   DONE   id of the last call whose result is published (worker); the main thread waits on it.
 *   KIND   INLINE (the report is in the buffer) or POSTED (it follows as a 'result' or
 *          'batch_result' message).
 *   RAN    how many calls of a batch ran (worker, INLINE batches).
 */
import { performance } from 'node:perf_hooks';
import { HOOK_NAMES } from '../config/types.js';
import { encodeCalls, hookStrings, readCalls, type EncodedCall } from './call-codec.js';
import type { BatchResultMessage, CallReport } from './messages.js';
import type { EventLogReader } from './event-log.js';
import { OUTCOMES, type HookArgs, type QueuedCall } from './types.js';
import { createSpareCore } from './spare-core.js';

/** Total size of a channel's buffer; arguments must fit in it less the header. */
export const CHANNEL_BYTES = 64 * 1024;
/** How long a worker sleeps in a blocking wait for the next call before it parks in its event loop. */
export const HOT_WAIT_MS = 2;
/**
 * How long a worker keeps looking for the next call after one, before it sleeps in its wait: a
 * caller answering a result with its next call (a queue draining) does so within this time, and
 * a worker that is still awake needs no wake-up. Bounded, so an idle plugin costs no CPU.
 */
export const WORKER_POLL_MS = 0.02;
/**
 * How long the main thread polls for the result of a single call before it waits for it through
 * its event loop (which costs a wake-up of the loop, some 10-20 µs). Only while calls on this
 * channel keep finishing within it, so a plugin with slow hooks never makes the main thread poll.
 */
export const HOST_POLL_MS = 0.03;
/** Whether polling can pay on this machine now (spare-core.ts); one tracker per thread. */
const coreToSpare = createSpareCore();

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
/** Calls in the batch written (call-codec.ts layout in the data area); 0 for a single call. */
const BATCH = 12;
/** How many calls of a batch ran (when its result is inline). */
const RAN = 13;
/** Float64 slots, after the words. */
const F64_AT = 64;
const BUDGET = 0;
const FUEL = 1;
const WALL = 2;
/**
 * How long (ms) the caller took from learning of its last single call's result to writing this
 * call; Infinity when it did not learn of one (the first call, or one after a batch). The worker
 * polls after a call that came this quickly: see serveCalls.
 */
const TURNAROUND = 3;
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
  return { i32: new Int32Array(buffer, 0, F64_AT / 4), f64: new Float64Array(buffer, F64_AT, 4), data: new Uint8Array(buffer, DATA_AT) };
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
  /**
   * Writes as many of `args` as fit, from the first, as batch `id` and wakes the worker; returns
   * how many it wrote (0: not even the first fits, nothing was sent; send them by message). The
   * worker records each call's progress as a message batch does.
   */
  postBatch(id: number, args: readonly QueuedCall[], budgets: readonly number[]): number;
  /**
   * Resolves once the worker finished batch `id`: how many of its calls ran when every one ended
   * ok (their reports are in the batch progress buffer), null when the result travels as a
   * 'batch_result' message (some call failed, or the worker posted messages) or the channel was
   * released.
   */
  batchResult(id: number): Promise<number | null>;
  /** After posting a control message: wakes a worker sleeping between calls so its event loop delivers it. */
  mail(): void;
  /** The worker is gone: ends any wait for a result (it resolves null). */
  release(): void;
}

/**
 * Results the main thread is waiting for, on every channel: it polls only when it waits for one
 * alone (with more in flight, it has other results to take and must not stall its loop).
 */
let waiting = 0;
/**
 * Most calls a channel waits for without polling after polls found nothing (a loaded machine).
 * One poll that comes up empty (a pause in the worker, a worker that had fallen asleep) skips
 * none: on a machine where a wake-up costs 70 µs, skipping 16 after every miss turned one slow
 * call into runs of twenty. Misses in a row skip 1, 3, 7, then this many.
 */
const POLL_BACKOFF = 15;

export function createCallChannel(bytes = CHANNEL_BYTES, pollMs = HOST_POLL_MS): MainChannel {
  const buffer = new SharedArrayBuffer(bytes);
  const { i32, f64, data } = views(buffer);
  let released = false;
  /** Whether the last single call finished quickly enough that polling for the next one pays. */
  let quick = true;
  /** Calls left before polling is tried again, and polls in a row that found nothing (see POLL_BACKOFF). */
  let backoff = 0;
  let misses = 0;
  /** When this thread learned of the last single call's result (see TURNAROUND). */
  let resultAt = -Infinity;
  const ring = (): void => {
    Atomics.add(i32, BELL, 1);
    Atomics.notify(i32, BELL);
  };
  /** Whether call `id` was published inline (false: its result is a message, or the worker is gone). */
  const published = async (id: number, poll: boolean): Promise<boolean> => {
    waiting++;
    try {
      if (poll && quick && pollMs > 0 && waiting === 1) {
        const now = performance.now();
        if (backoff > 0) backoff--;
        else if (coreToSpare(now)) {
          const until = now + pollMs;
          let found = true;
          while (Atomics.load(i32, DONE) !== id) {
            if (performance.now() > until) {
              found = false;
              break;
            }
          }
          misses = found ? 0 : misses + 1;
          backoff = Math.min(POLL_BACKOFF, 2 ** Math.max(0, misses - 1) - 1);
        }
      }
      for (;;) {
        if (released) return false;
        const done = Atomics.load(i32, DONE);
        if (done === id) break;
        const w = waitAsync(i32, DONE, done);
        if (w.async) await w.value;
      }
      return Atomics.load(i32, KIND) === INLINE;
    } finally {
      waiting--;
    }
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
      i32[BATCH] = 0;
      f64[BUDGET] = budget;
      f64[TURNAROUND] = performance.now() - resultAt;
      // The store of CALL publishes everything written before it.
      Atomics.store(i32, CALL, id);
      ring();
      return true;
    },
    async result(id) {
      if (!(await published(id, true))) {
        quick = false;
        return null;
      }
      resultAt = performance.now();
      const report: CallReport = { outcome: OUTCOMES[i32[OUTCOME]!] ?? 'crashed', fuelUsed: f64[FUEL]!, wallUs: f64[WALL]! };
      quick = report.wallUs < pollMs * 1000;
      const len = i32[MSG_LEN]!;
      if (len >= 0) report.message = decoder.decode(data.subarray(0, len));
      if (i32[SKIPPED] === 1) report.skipped = true;
      return report;
    },
    postBatch(id, args, budgets) {
      const n = encodeCalls(args, budgets, data);
      if (n === 0) return 0;
      i32[BATCH] = n;
      resultAt = -Infinity;
      Atomics.store(i32, CALL, id);
      ring();
      return n;
    },
    async batchResult(id) {
      if (!(await published(id, false))) return null;
      return i32[RAN]!;
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
export interface SharedCall extends EncodedCall {
  id: number;
}

/** What a batch of calls came to: how many ran, and the reports of the ones that did not end ok. */
export type BatchOutcome = Pick<BatchResultMessage, 'count' | 'failed'>;

export interface CallServer {
  /** Runs the call; the argument views are valid only until it returns. */
  run(call: SharedCall): CallReport;
  /** Sends a report as a 'result' message (it does not fit inline, or messages went out before it). */
  postResult(id: number, report: CallReport): void;
  /**
   * Runs a batch of `n` calls in order, each read with `next()` as it starts (its views are valid
   * only until the next one starts), recording their progress as a batch message does.
   */
  runBatch(n: number, next: () => EncodedCall): BatchOutcome;
  /** Sends a batch's outcome as a 'batch_result' message (a call failed, or messages went out before it). */
  postBatchResult(id: number, outcome: BatchOutcome): void;
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
export function serveCalls(
  buffer: SharedArrayBuffer,
  server: CallServer,
  hotWaitMs = HOT_WAIT_MS,
  pollMs = WORKER_POLL_MS,
  /** Where batches find the events they name by slot (call-codec.ts). */
  events?: EventLogReader,
): { stop(): void } {
  const { i32, f64, data } = views(buffer);
  // Ids start at 1: a call written before this runs (the host answers 'ready' at once) is still new.
  let last = 0;
  let seenMail = 0;
  let postedAt = server.posted();
  let stopped = false;
  /** Until when the worker keeps looking for the next call before it sleeps (0: not looking). */
  let pollEnd = 0;
  /** When the last call ended. */
  let doneAt = 0;

  const handle = (id: number): void => {
    const batch = i32[BATCH]!;
    const kind = batch > 0 ? handleBatch(id, batch) : handleCall(id);
    i32[KIND] = kind;
    Atomics.store(i32, DONE, id);
    Atomics.notify(i32, DONE);
  };

  const handleCall = (id: number): number => {
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
    // Anything posted since the last result (during this call, or a log flushed between calls) is
    // delivered before this result only if the result follows it on the same port.
    if (server.posted() === postedAt && inlineable(report)) {
      i32[OUTCOME] = OUTCOMES.indexOf(report.outcome);
      i32[SKIPPED] = report.skipped ? 1 : 0;
      f64[FUEL] = report.fuelUsed;
      f64[WALL] = report.wallUs;
      i32[MSG_LEN] = report.message === undefined ? -1 : encoder.encodeInto(report.message, data).written;
      return INLINE;
    }
    server.postResult(id, report);
    postedAt = server.posted();
    return POSTED;
  };

  const handleBatch = (id: number, n: number): number => {
    const outcome = server.runBatch(n, readCalls(data, n, events).next);
    // Reports of failed calls carry messages and stacks: they, like any result that must follow
    // what the worker posted, go by message. Every call ok: the progress buffer holds it all.
    if (outcome.failed.length === 0 && server.posted() === postedAt) {
      i32[RAN] = outcome.count;
      return INLINE;
    }
    server.postBatchResult(id, outcome);
    postedAt = server.posted();
    return POSTED;
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
        // Looking for the next call pays while the caller answers a result with its next call
        // within the poll: what it says it took this time (TURNAROUND). Not the gap this thread
        // sees, which includes its own wake-up when it had fallen asleep: on a machine where that
        // costs more than the poll, one late call would have stopped polling for good.
        const start = performance.now();
        const poll = i32[BATCH] === 0 && f64[TURNAROUND]! < pollMs && coreToSpare(start);
        handle(id);
        doneAt = performance.now();
        if (doneAt > sliceEnd) {
          setImmediate(drain);
          return;
        }
        pollEnd = poll ? doneAt + pollMs : 0;
        continue;
      }
      const mail = Atomics.load(i32, MAIL);
      if (mail !== seenMail) {
        seenMail = mail;
        park(bell);
        return;
      }
      // A caller that answers a result with its next call does so within microseconds: looking
      // again costs less than falling asleep and being woken.
      if (pollEnd > 0 && performance.now() < pollEnd) continue;
      pollEnd = 0;
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
