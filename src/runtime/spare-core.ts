/**
 * Whether a core is to spare for polling (see call-channel.ts): a thread that polls holds a core,
 * and on a machine where other processes already keep every core but one busy, that is the core
 * the thread it waits for needs, and every round trip gets slower.
 *
 * Measured from CPU time over the last second or so: what all cores spent busy (the `cpu` line of
 * /proc/stat on Linux, or the lines of the CPUs this process may run on when that is fewer than
 * the host's; os.cpus() elsewhere) less what this process spent (process.cpuUsage, every
 * thread), i.e. how many cores other processes kept busy (or the hypervisor took: steal). A core
 * is to spare while that is below the cores less one (the polling thread and the one it waits for
 * need two between them). The 1-minute load average, used before, answered the same question a
 * minute late: after a load test it kept polling off for a minute or more, and when another
 * process started hogging the machine polling went on for as long. It also counted this
 * process's own threads, so a bench that ran four plugins at once turned polling off for the
 * single calls measured after it.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
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
/** A `cpu` or `cpuN` line of /proc/stat: user nice system idle iowait irq softirq [steal]. */
const CPU_LINE = /^cpu(\d*)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s+(\d+)(?:\s+(\d+))?/gm;

/** Busy ms of a matched CPU_LINE: user, nice, system, irq, softirq, steal. */
function lineBusyMs(m: RegExpMatchArray): number {
  const ticks = Number(m[2]) + Number(m[3]) + Number(m[4]) + Number(m[5]) + Number(m[6]) + Number(m[7] ?? 0);
  return (ticks * 1000) / USER_HZ;
}

/** What `read` returns, or null when it throws (no such file, no permission). */
function readOrNull(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** Busy ms of each CPU with a `cpuN` line in /proc/stat text, by N. */
function perCpuBusyMs(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(CPU_LINE)) if (m[1] !== '') out.set(Number(m[1]), lineBusyMs(m));
  return out;
}

/**
 * Busy ms of every core together from the first line of /proc/stat (user, nice, system, irq,
 * softirq, steal), or null where there is none. Read into a small buffer and closed again each
 * time: ~14 µs, against ~50 µs for os.cpus(), which also reads /proc/cpuinfo; a worker that is
 * replaced must not leave a descriptor behind.
 */
export function procStatBusyMs(read: () => string = readProcStatHead): number | null {
  const text = readOrNull(read);
  if (text === null) return null;
  const first = text.matchAll(CPU_LINE).next();
  return !first.done && first.value.index === 0 && first.value[1] === '' ? lineBusyMs(first.value) : null;
}

/**
 * Busy ms of the listed CPUs together, from their `cpuN` lines of /proc/stat; null when the text
 * lacks one of them (a CPU taken offline since) or cannot be read.
 */
export function procStatBusyMsOf(ids: readonly number[], read: () => string = readProcStat): number | null {
  const text = readOrNull(read);
  return text === null ? null : busyOf(perCpuBusyMs(text), ids);
}

/** Busy ms of the listed CPUs together, from per-CPU lines already parsed; null when one is missing. */
function busyOf(lines: ReadonlyMap<number, number>, ids: readonly number[]): number | null {
  if (ids.length === 0) return null;
  let busy = 0;
  for (const id of new Set(ids)) {
    const ms = lines.get(id);
    if (ms === undefined) return null;
    busy += ms;
  }
  return busy;
}

/** How many `cpuN` lines /proc/stat has: the host's online CPUs. */
export function procStatCpuCount(text: string): number {
  return perCpuBusyMs(text).size;
}

/**
 * The CPUs this thread may run on (its affinity: `taskset`, a container's cpuset), from the
 * Cpus_allowed_list line of /proc/thread-self/status ("0-3,8,10-11"); null when it cannot be read.
 */
export function allowedCpus(read: () => string = () => readFileSync('/proc/thread-self/status', 'latin1')): number[] | null {
  const text = readOrNull(read);
  if (text === null) return null;
  const m = /^Cpus_allowed_list:\s*([\d,-]+)\s*$/m.exec(text);
  if (m === null) return null;
  const out: number[] = [];
  for (const part of m[1]!.split(',')) {
    const r = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (r === null) return null;
    const from = Number(r[1]);
    const to = r[2] === undefined ? from : Number(r[2]);
    if (to < from || to - from > 65_536) return null;
    for (let c = from; c <= to; c++) out.push(c);
  }
  return out.length > 0 ? out : null;
}

function readProcStatHead(): string {
  const fd = openSync('/proc/stat', 'r');
  try {
    return head.toString('latin1', 0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

function readProcStat(): string {
  return readFileSync('/proc/stat', 'latin1');
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
 *
 * A thread allowed fewer CPUs than the host has (`taskset`, a container given a cpuset) counts
 * only those CPUs' lines: what other processes do on the rest of the host takes nothing from it,
 * and availableParallelism(), which the rule compares with, counts the allowed CPUs too. The
 * allowed set is read once, with the source.
 */
let source: (() => number) | null = null;
function busyMs(): number {
  if (source !== null) return source();
  // The whole file once, its per-CPU lines parsed once: they answer both which source to use and the first sample.
  const all = process.platform === 'linux' ? readOrNull(readProcStat) : null;
  if (all !== null) {
    const allowed = allowedCpus();
    const lines = perCpuBusyMs(all);
    if (allowed !== null && allowed.length < lines.size) {
      const first = busyOf(lines, allowed);
      if (first !== null) {
        source = () => procStatBusyMsOf(allowed) ?? NaN;
        return first;
      }
    }
    const first = procStatBusyMs(() => all);
    if (first !== null) {
      source = () => procStatBusyMs() ?? NaN;
      return first;
    }
  }
  source = cpusBusyMs;
  return cpusBusyMs();
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
