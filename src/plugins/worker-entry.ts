/**
 * A plugin worker thread's entry: the runtime's worker loop with the host's capabilities. It sits
 * above both (the runtime never imports src/host), so the worker gets its `"bext"` imports
 * statically; tests drive `runWorker` over a MessageChannel with capabilities of their own.
 */
import { parentPort } from 'node:worker_threads';
import { CAPABILITIES } from '../host/registry.js';
import { lowerThreadPriority, WORKER_NICENESS } from '../runtime/thread-priority.js';
import { runWorker } from '../runtime/worker.js';

// node:wasi warns "experimental" when loaded; the warning is emitted on the next tick, so this
// listener, installed while the module graph is still evaluating, sees it first.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

if (!parentPort) throw new Error('worker-entry must run in a worker thread');
// First of all, so that a worker starting up while the server is busy already yields to it.
lowerThreadPriority(WORKER_NICENESS);
runWorker(parentPort, CAPABILITIES);
