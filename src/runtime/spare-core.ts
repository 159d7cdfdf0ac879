/**
 * Whether a core is to spare for polling (see call-channel.ts): a thread that polls holds a core,
 * and on a machine where other processes already keep every core but one busy, that is the core
 * the thread it waits for needs, and every round trip gets slower.
 *
 * Measured from CPU time over the last second or so: what all cores spent busy (os.cpus) less
 * what this process spent (process.cpuUsage, every thread), i.e. how many cores other processes
 * kept busy. A core is to spare while that is below the cores less one (the polling thread and
 * the one it waits for need two between them). The 1-minute load average, used before, answered
 * the same question a minute late: after a load test it kept polling off for a minute or more,
 * and when another process started hogging the machine polling went on for as long. It also
 * counted this process's own threads, so a bench that ran four plugins at once turned polling
 * off for the single calls measured after it.
 */
import { availableParallelism, cpus } from 'node:os';

/** CPU time as sampled: busy ms over every core, this process's ms, when (performance.now()). */
export interface CpuSample {
  at: number;
  allBusyMs: number;
  ownMs: number;
}

/** Shortest window measured over: os.cpus() counts in ticks of 10 ms on Linux. */
export const SPARE_WINDOW_MS = 1_000;

/** Busy ms of every core together, and this process's CPU ms, now. */
export function sampleCpu(now: number): CpuSample {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  const own = process.cpuUsage();
  return { at: now, allBusyMs: busy, ownMs: (own.user + own.system) / 1000 };
}

/** Cores other processes kept busy between two samples, on average (0 when nothing can be said). */
export function othersBusyCores(from: CpuSample, to: CpuSample): number {
  const ms = to.at - from.at;
  if (!(ms > 0)) return 0;
  return Math.max(0, (to.allBusyMs - from.allBusyMs - (to.ownMs - from.ownMs)) / ms);
}

/** The rule: other processes leave at least two cores' worth of room for the poller and the thread it waits for. */
export function spareGiven(othersCores: number, cores: number): boolean {
  return othersCores < cores - 1;
}

/**
 * A per-thread tracker (each thread that polls keeps its own; samples cost ~50 µs, taken at most
 * once a window). `sample` is for tests.
 */
export function createSpareCore(sample: (now: number) => CpuSample = sampleCpu, cores = availableParallelism()): (now: number) => boolean {
  let last: CpuSample | null = null;
  // Until a window has passed nothing is known: polling is allowed, as it was before any load.
  let spare = true;
  // A single core cannot poll for a thread on another one.
  if (cores < 2) return () => false;
  return (now: number): boolean => {
    if (last === null) {
      last = sample(now);
      return spare;
    }
    if (now - last.at < SPARE_WINDOW_MS) return spare;
    const next = sample(now);
    // A gap of many windows (no calls for a while) says nothing about now: start a new window.
    if (now - last.at <= 4 * SPARE_WINDOW_MS) spare = spareGiven(othersBusyCores(last, next), cores);
    last = next;
    return spare;
  };
}
