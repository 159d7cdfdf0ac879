/**
 * How a plugin worker thread is created. Its old generation may grow to just under 2 GiB: V8 gives
 * an isolate allowed 2 GiB or more a mapping of the embedded builtins of its own, next to its JIT
 * code ("short builtin calls"), and every worker's mapping counts again in the process's RSS
 * (~0.75 MB per plugin; the pages are the node binary's, shared, but RSS counts each mapping).
 * Below that size a worker calls the builtins where the binary has them. A worker's heap holds
 * host-side values only (hook arguments and results, logs, a fetch response in flight; guest
 * linear memory is outside it), far below either size. The limit is also never above the main
 * thread's, so a machine where V8 chose less keeps about what it chose.
 */
import v8 from 'node:v8';
import type { WorkerOptions } from 'node:worker_threads';

const MB = 1024 * 1024;
/** Below V8's threshold for short builtin calls (an old generation of 2 GiB). */
const OLD_GENERATION_MB = 2047;

let oldGenerationMb = 0;

export function pluginWorkerOptions(): WorkerOptions {
  oldGenerationMb ||= Math.min(OLD_GENERATION_MB, Math.floor(v8.getHeapStatistics().heap_size_limit / MB));
  return { stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: oldGenerationMb } };
}
