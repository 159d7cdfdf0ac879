/**
 * Whether a core is to spare for polling (see call-channel.ts): a thread that polls holds a core,
 * and on a machine where other processes already keep every core but one busy, that is the core
 * the thread it waits for needs, and every round trip gets slower.
 *
 * Measured from CPU time over the last second or so: what all cores spent busy (the `cpu` line of
 * /proc/stat on Linux, os.cpus() elsewhere) less what this process spent (process.cpuUsage, every
 * thread), i.e. how many cores other processes kept busy (or the hypervisor took: steal). A core
 * is to spare while that is below the cores less one (the polling thread and the one it waits for
 * need two between them). The 1-minute load average, used before, answered the same question a
 * minute late: after a load test it kept polling off for a minute or more, and when another
 * process started hogging the machine polling went on for as long. It also counted this
 * process's own threads, so a bench that ran four plugins at once turned polling off for the
 * single calls measured after it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** CPU time as sampled: busy ms over every core, this process's ms, when (performance.now()). */
export interface CpuSample {
  at: number;
  allBusyMs: number;
  ownMs: number;
}

/** Shortest window measured over: CPU time is counted in ticks of 10 ms. */
export const SPARE_WINDOW_MS = 1_000;

/** Clock ticks per second in /proc/stat (USER_HZ: 100 on every Linux port node runs on). */
const USER_HZ = 100;
const head = Buffer.alloc(256);

/**
 * Busy ms of every core together from the first line of /proc/stat (user, nice, system, irq,
 * softirq, steal), or null where there is none. Read into a small buffer and closed again each
 * time: ~14 µs, against ~50 µs for os.cpus(), which also reads /proc/cpuinfo; a worker that is
 * replaced must not leave a descriptor behind.
 */
export function procStatBusyMs(read: () => string = readProcStatHead): number | null {
  let line: string;
  try {
    line = read();
  } catch {
    return null;
  }
  const m = /^cpu\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s+(\d+)(?:\s+(\d+))?/.exec(line);
  if (m === null) return null;
  const ticks = Number(m[1]) + Number(m[2]) + Number(m[3]) + Number(m[4]) + Number(m[5]) + Number(m[6] ?? 0);
  return (ticks * 1000) / USER_HZ;
}

function readProcStatHead(): string {
  const fd = openSync('/proc/stat', 'r');
  try {
    return head.toString('latin1', 0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

function cpusBusyMs(): number {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return busy;
}

/**
 * The source, chosen at the thread's first sample (not at import: most threads never poll) and
 * kept for its life: the two count different things (os.cpus() leaves out softirq and steal), so
 * a window must not start with one and end with the other. A failed read is NaN, and a window
 * with one says nothing.
 */
let source: (() => number) | null = null;
function busyMs(): number {
  if (source !== null) return source();
  const first = process.platform === 'linux' ? procStatBusyMs() : null;
  if (first === null) {
    source = cpusBusyMs;
    return cpusBusyMs();
  }
  source = () => procStatBusyMs() ?? NaN;
  return first;
}

/** Busy ms of every core together, and this process's CPU ms, now. */
export function sampleCpu(now: number): CpuSample {
  const busy = busyMs();
  const own = process.cpuUsage();
  return { at: now, allBusyMs: busy, ownMs: (own.user + own.system) / 1000 };
}

/** Cores other processes kept busy between two samples, on average (NaN when nothing can be said). */
export function othersBusyCores(from: CpuSample, to: CpuSample): number {
  const ms = to.at - from.at;
  if (!(ms > 0)) return NaN;
  return Math.max(0, (to.allBusyMs - from.allBusyMs - (to.ownMs - from.ownMs)) / ms);
}

/** The rule: other processes leave at least two cores' worth of room for the poller and the thread it waits for. */
export function spareGiven(othersCores: number, cores: number): boolean {
  return othersCores < cores - 1;
}

/**
 * A per-thread tracker: each thread that polls keeps its own. A sample costs ~14 µs on Linux
 * (~50 µs through os.cpus()) and is taken at most once a window. `sample` is for tests.
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
    const others = now - last.at <= 4 * SPARE_WINDOW_MS ? othersBusyCores(last, next) : NaN;
    if (Number.isFinite(others)) spare = spareGiven(others, cores);
    last = next;
    return spare;
  };
}
