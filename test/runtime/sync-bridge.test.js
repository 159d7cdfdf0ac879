// Both ends of the sync bridge: a real worker blocks in Atomics.wait while the main thread answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/cli.js';
import { createBridge } from '../../dist/runtime/sync-bridge.js';

const WORKER = `
  import { workerData, parentPort } from 'node:worker_threads';
  const { connectBridge } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/runtime/sync-bridge.js')).href)});
  const call = connectBridge(workerData.end);
  const out = [];
  // The worker does synchronous work only: no event loop turns between calls.
  for (const p of workerData.payloads) {
    const t0 = performance.now();
    const answer = call('http_fetch', p);
    out.push({ answer, ms: performance.now() - t0 });
  }
  parentPort.postMessage(out);
`;

function runWorker(payloads, handler) {
  const bridge = createBridge();
  bridge.serve(handler);
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(WORKER)}`), {
    workerData: { end: bridge.worker, payloads },
    transferList: [bridge.worker.port],
  });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => {
      bridge.close();
      resolve(m);
    });
    w.once('error', reject);
  });
}

test('round trip: requests in order, async answers of any size, errors become status 0', async () => {
  const seen = [];
  const big = 'x'.repeat(3 * 1024 * 1024);
  const out = await runWorker(['one', 'two', 'big', 'boom', 'ünï'], async (op, payload) => {
    seen.push(`${op}:${payload}`);
    await new Promise((r) => setTimeout(r, 30));
    if (payload === 'big') return big;
    if (payload === 'boom') throw new Error('handler broke');
    return `answer to ${payload}`;
  });
  assert.deepEqual(seen, ['http_fetch:one', 'http_fetch:two', 'http_fetch:big', 'http_fetch:boom', 'http_fetch:ünï']);
  assert.equal(out[0].answer, 'answer to one');
  assert.equal(out[1].answer, 'answer to two');
  assert.equal(out[2].answer.length, big.length);
  assert.deepEqual(JSON.parse(out[3].answer), { status: 0, error: 'host error: handler broke' });
  assert.equal(out[4].answer, 'answer to ünï');
  // The worker really waited for the async handler (no early return with stale data).
  assert.ok(out.every((o) => o.ms >= 25), out.map((o) => o.ms).join(','));
});
