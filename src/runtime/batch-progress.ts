/**
 * Shared memory between a plugin host and its worker that tells, while a batch of calls runs,
 * which call is running since when, and the fuel and wall time of each finished call. The host
 * reads it when its timeout timer fires (to time out the right call after its own timeout_ms)
 * and after a timeout or crash (so the calls that finished before it are still recorded
 * exactly). A batch result message then only needs to carry the reports of failed calls.
 */
import { performance } from 'node:perf_hooks';
import { OUTCOMES, type Outcome } from './types.js';
import type { CallReport } from './messages.js';

/**
 * Most calls in one batch (one result slot each): a saturated server's pump hands over up to
 * 1,024 events at once (plugins/hook-queue.ts), and each batch is one wake-up of the worker.
 */
export const MAX_BATCH = 1024;
/** Numbers per call: outcome index (SKIPPED for a hook not exported), fuel used, wall µs. */
const SLOT = 3;
const SKIPPED = -1;

/** This thread's timeOrigin (each thread has its own). */
const ORIGIN = performance.timeOrigin;

/** Milliseconds on a clock both threads share. */
export function sharedNow(): number {
  return ORIGIN + performance.now();
}

export class BatchProgress {
  /** Layout of copied slots (copySlots): SLOT numbers per call, fuel at +FUEL, wall time at +WALL. */
  static readonly SLOT = SLOT;
  static readonly FUEL = 1;
  static readonly WALL = 2;

  /** [0]: index of the call running now, -1 when none; [1]: 1 when the host asked the batch to stop. */
  private readonly ctl: Int32Array;
  /** [0]: start of the running call (sharedNow ms); then per call: outcome index, fuel, wall µs. */
  private readonly f64: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ctl = new Int32Array(buffer, 0, 2);
    this.f64 = new Float64Array(buffer, 8, 1 + SLOT * MAX_BATCH);
  }

  static create(): BatchProgress {
    const p = new BatchProgress(new SharedArrayBuffer(8 + 8 * (1 + SLOT * MAX_BATCH)));
    p.reset();
    return p;
  }

  /** Host, before sending a batch: nothing is running. */
  reset(): void {
    Atomics.store(this.ctl, 0, -1);
    Atomics.store(this.ctl, 1, 0);
  }

  /** Host: the batch stops after the call running now (the rest of it does not run). */
  cancel(): void {
    Atomics.store(this.ctl, 1, 1);
  }

  /** Worker, before each call after the first: whether the host asked the batch to stop. */
  cancelled(): boolean {
    return Atomics.load(this.ctl, 1) === 1;
  }

  /** Worker, as call `index` starts, at `now` (this thread's performance.now()). The store after the time publishes both. */
  begin(index: number, now: number): void {
    this.f64[0] = ORIGIN + now;
    Atomics.store(this.ctl, 0, index);
  }

  /** Worker, as call `index` ends (before the next begin). */
  finish(index: number, report: CallReport): void {
    const at = 1 + SLOT * index;
    this.f64[at] = report.skipped ? SKIPPED : OUTCOMES.indexOf(report.outcome);
    this.f64[at + 1] = report.fuelUsed;
    this.f64[at + 2] = report.wallUs;
  }

  /** Host: the call running now (-1 when the batch has not started) and since when. */
  current(): { index: number; since: number } {
    const index = Atomics.load(this.ctl, 0);
    return { index, since: this.f64[0]! };
  }

  /** Host: what the worker recorded for a finished call (no message: only failures carry one). */
  report(index: number): CallReport {
    return BatchProgress.reportFrom(this.f64.subarray(1), index);
  }

  /**
   * Host: a copy of what the worker recorded for the first `count` calls (read it with reportFrom
   * and okSamples), taken before the next batch reuses the buffer: one copy for a whole batch.
   */
  copySlots(count: number): Float64Array {
    return this.f64.slice(1, 1 + SLOT * count);
  }

  /** Call k's report in slots that copySlots returned. */
  static reportFrom(slots: Float64Array, k: number): CallReport {
    const at = SLOT * k;
    const code = slots[at]!;
    const fuelUsed = slots[at + 1]!;
    const wallUs = slots[at + 2]!;
    if (code === SKIPPED) return { outcome: 'ok', fuelUsed, wallUs, skipped: true };
    const outcome: Outcome = OUTCOMES[code] ?? 'crashed';
    return { outcome, fuelUsed, wallUs };
  }

  /** Whether call k in copied slots was skipped (the module does not export its hook: no call happened). */
  static skippedAt(slots: Float64Array, k: number): boolean {
    return slots[SLOT * k] === SKIPPED;
  }
}
