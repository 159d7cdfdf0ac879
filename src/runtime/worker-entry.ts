/** Worker thread entry: everything lives in worker.ts so tests can drive it over a MessageChannel. */
import { parentPort } from 'node:worker_threads';

// node:wasi warns "experimental" when first imported; silence that before worker.js loads it.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

if (!parentPort) throw new Error('worker-entry must run in a worker thread');
const { runWorker } = await import('./worker.js');
runWorker(parentPort);
