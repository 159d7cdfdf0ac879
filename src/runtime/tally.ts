/**
 * Calls that ended ok, counted together: the queued path (PluginHandle.callQueued) reports a run
 * of calls to one hook as one CallTally instead of a CallResult per call. Stats keep exact
 * counts and HDR histograms of whole units (fuel, µs), so each quantity is handed over as its
 * distinct whole values with how many calls had each: recording a value with its count is the
 * same as recording it that many times, and a run of no-op calls has only a handful of values.
 */
import type { HookName } from '../config/types.js';
import { BatchProgress } from './batch-progress.js';
import type { CallTally, ValueCounts } from './types.js';

/** A value as stats record it: a whole number ≥ 0 (a negative or non-finite one counts as 0). */
export function wholeValue(n: number): number {
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.round(n), Number.MAX_SAFE_INTEGER);
}

let scratch = new Float64Array(256);
/** Values of a run of calls usually lie close together (a no-op's few µs, a constant fuel): counted in place. */
const COUNTED_RANGE = 4096;
const tallies = new Uint32Array(COUNTED_RANGE);

/** Whole values of quantity `q` (BatchProgress.FUEL or .WALL) of the ok calls from..end-1 in copied progress slots. */
function valueCounts(slots: Float64Array, from: number, end: number, q: number): ValueCounts {
  if (scratch.length < end - from) scratch = new Float64Array(2 * (end - from));
  let n = 0;
  let total = 0;
  let min = Infinity;
  let max = 0;
  for (let k = from; k < end; k++) {
    if (BatchProgress.skippedAt(slots, k)) continue;
    const x = wholeValue(slots[BatchProgress.SLOT * k + q]!);
    scratch[n++] = x;
    total += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const values: number[] = [];
  const counts: number[] = [];
  if (n === 0) return { values, counts, total, min: 0, max: 0 };
  const range = max - min + 1;
  if (range <= COUNTED_RANGE) {
    tallies.fill(0, 0, range);
    for (let k = 0; k < n; k++) tallies[scratch[k]! - min]!++;
    for (let v = 0; v < range; v++) {
      const c = tallies[v]!;
      if (c === 0) continue;
      values.push(min + v);
      counts.push(c);
    }
    return { values, counts, total, min, max };
  }
  const xs = scratch.subarray(0, n);
  xs.sort();
  for (let k = 0; k < n; ) {
    const v = xs[k]!;
    let e = k + 1;
    while (e < n && xs[e] === v) e++;
    values.push(v);
    counts.push(e - k);
    k = e;
  }
  return { values, counts, total, min, max };
}

/**
 * The ok calls from..end-1 (all to `hook`) of a chunk's copied progress slots as one tally; null
 * when every one of them was skipped (the module does not export the hook: no call happened).
 */
export function tallyOf(plugin: string, hook: HookName, budget: number, slots: Float64Array, from: number, end: number): CallTally | null {
  let count = 0;
  for (let k = from; k < end; k++) if (!BatchProgress.skippedAt(slots, k)) count++;
  if (count === 0) return null;
  return {
    plugin,
    hook,
    budget,
    count,
    fuel: valueCounts(slots, from, end, BatchProgress.FUEL),
    wallUs: valueCounts(slots, from, end, BatchProgress.WALL),
    slots: slots.subarray(BatchProgress.SLOT * from, BatchProgress.SLOT * end),
  };
}

/** Fuel and wall time of each call of a tally, in order (for a live view; stats use the value counts). */
export function* tallyCalls(t: CallTally): Generator<{ fuelUsed: number; wallUs: number }> {
  const n = t.slots.length / BatchProgress.SLOT;
  for (let k = 0; k < n; k++) {
    if (BatchProgress.skippedAt(t.slots, k)) continue;
    yield { fuelUsed: t.slots[BatchProgress.SLOT * k + BatchProgress.FUEL]!, wallUs: t.slots[BatchProgress.SLOT * k + BatchProgress.WALL]! };
  }
}
