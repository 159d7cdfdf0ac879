// runWorker driven over a MessageChannel on this thread, with a capability list of the test's own:
// the worker's "bext" imports come only from the capabilities it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { wat } from '../helpers/wasm.js';
import { runWorker } from '../../dist/runtime/worker.js';
import { checkAbi } from '../../dist/runtime/abi-table.js';
import { importTable } from '../../dist/runtime/capability.js';
import { createBridge } from '../../dist/runtime/sync-bridge.js';
import { BatchProgress } from '../../dist/runtime/batch-progress.js';
import { parseModule } from '../../dist/wasm/index.js';
import { instrument } from '../../dist/fuel/index.js';
import { CAPABILITIES, HOST_IMPORTS } from '../../dist/host/registry.js';

// A capability as a new one would be written: its import, its codes, its state, its function.
const counter = {
  name: 'counter',
  imports: [{ name: 'count', params: ['i32'], results: ['i32'], returnsData: false, ranges: [] }],
  codes: [],
  prepare: () => ({ total: 0 }),
  implement: (io) => ({
    count(n) {
      io.state().total += n;
      io.ctx.log('info', `total ${io.state().total}`, 'guest');
      return io.state().total;
    },
  }),
};

const SOURCE = `(module
  (import "bext" "count" (func $count (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_reload") (result i32)
    (drop (call $count (i32.const 2)))
    (i32.sub (call $count (i32.const 3)) (i32.const 5))))`;

async function start(capabilities) {
  const bytes = wat(SOURCE);
  const check = checkAbi(parseModule(bytes), importTable(capabilities));
  assert.deepEqual(check.problems, []);
  const { port1, port2 } = new MessageChannel();
  runWorker(port2, capabilities);
  const bridge = createBridge();
  const messages = [];
  const waiters = [];
  port1.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (type) => {
    for (;;) {
      const i = messages.findIndex((m) => m.type === type);
      if (i >= 0) return messages.splice(i, 1)[0];
      await new Promise((r) => waiters.push(r));
    }
  };
  port1.postMessage(
    {
      type: 'init',
      plugin: 'channel',
      module: await WebAssembly.compile(await instrument(bytes)),
      summary: check.summary,
      functionNames: {},
      configJson: '{}',
      permissions: { allowed_urls: [], storage_quota_kb: 1, max_fetch_per_minute: 1, kv_namespaces: [], queue_names: [] },
      limits: { max_memory_mb: 16, timeout_ms: 1000 },
      stateDir: os.tmpdir(),
      initBudget: 1_000_000,
      logLevel: 'info',
      bridge: bridge.worker,
      progress: BatchProgress.create().buffer,
    },
    [bridge.worker.port],
  );
  return { port1, bridge, next, messages };
}

test('runWorker over a MessageChannel serves imports from the capabilities it is given', async () => {
  const { port1, bridge, next, messages } = await start([counter]);
  try {
    assert.equal((await next('ready')).type, 'ready');
    port1.postMessage({ type: 'call', id: 1, args: { hook: 'on_reload' }, budget: 1_000_000 });
    const { report } = await next('result');
    assert.equal(report.outcome, 'ok', JSON.stringify(report));
    assert.deepEqual(messages.filter((m) => m.type === 'logs').flatMap((m) => m.entries).map((e) => e.msg), ['total 2', 'total 5']);
  } finally {
    port1.close();
    bridge.close();
  }
});

test('the registry\'s table is derived from its capabilities, in ABI order', () => {
  assert.deepEqual(HOST_IMPORTS, CAPABILITIES.flatMap((c) => c.imports));
  assert.deepEqual(
    HOST_IMPORTS.map((s) => s.name),
    ['log', 'storage_get', 'storage_set', 'storage_delete', 'http_fetch', 'get_config', 'emit_metric', 'kv_get', 'kv_set', 'kv_delete', 'queue_publish', 'queue_consume'],
  );
  const bytes = wat(SOURCE);
  const check = checkAbi(parseModule(bytes), HOST_IMPORTS);
  assert.match(check.problems[0], /^import "bext"\."count" is not part of ABI v1 \(known: log, storage_get/);
});
