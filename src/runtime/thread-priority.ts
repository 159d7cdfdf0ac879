/**
 * A plugin worker runs below the server thread's scheduling priority. Events reach a plugin off
 * the request path, so when the CPUs are all busy (a load test on a 2-core laptop) answering
 * requests comes first: a worker the server wakes with a batch should not take the CPU from the
 * thread that just woke it. At equal priority the kernel lets a freshly woken thread preempt the
 * running one; at a lower one the worker runs in the gaps, and still gets a share it cannot be
 * starved of (niceness weighs, it does not exclude). On an idle machine nothing changes: a thread
 * with a CPU to itself runs at full speed whatever its niceness.
 *
 * Linux only: there a thread is a task with an id of its own, and setpriority() on it affects that
 * thread alone. Elsewhere niceness is per process, and lowering it would slow the server too.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** How much nicer than the server thread a plugin worker runs (0 to 19; 0: the same). */
export const WORKER_NICENESS = 10;

/**
 * Lowers the calling thread's priority to `niceness` (never raises it: a server started with
 * `nice` keeps its workers at least as nice). Does nothing where threads have no priority of
 * their own.
 */
export function lowerThreadPriority(niceness: number): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && getPriority(tid) < niceness) setPriority(tid, niceness);
  } catch {
    // No /proc (a container without it) or a sandbox that forbids setpriority: run as is.
  }
}
