// A fault the host finds (a bad pointer, proc_exit) ends the hook call as a trap even when the
// guest catches the exception the import threw with `catch_all`, as a wasmtime trap cannot be
// caught; host imports refuse to run for the rest of that call; the next call runs normally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../../dist/plugins/index.js';
import { data, LOG_IMPORT, mod, tempDir } from './helpers.js';

const PROC_EXIT = '(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))';

async function loadEh(body, imports) {
  const dir = tempDir();
  const file = path.join(dir, 'caught.wasm');
  writeFileSync(file, wat(mod(`${data(0, 'info')} ${data(16, 'after the fault')} ${data(48, 'next call')} ${body}`, { imports }), { features: { exceptions: true } }));
  const logs = [];
  const handle = await loadPlugin({
    plugin: defaultPluginConfig(file),
    stateDir: path.join(dir, '.bext'),
    logLevel: 'trace',
    logOutcomes: false,
    onLog: (e) => logs.push(e),
  });
  return { handle, logs };
}

const guestLines = (logs) => logs.filter((l) => l.source === 'guest').map((l) => l.msg);

test('a bad pointer caught by catch_all still ends the call as that trap, and later imports in the call are refused', async (t) => {
  const { handle, logs } = await loadEh(
    `(func (export "on_reload") (result i32)
       (try (do (call $log (i32.const 0) (i32.const 4) (i32.const 999999999) (i32.const 4))) (catch_all))
       ;; Caught: try the host again, then claim success.
       (try (do (call $log (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 15))) (catch_all))
       (i32.const 0))
     (func (export "on_server_stop") (result i32)
       (call $log (i32.const 0) (i32.const 4) (i32.const 48) (i32.const 9))
       (i32.const 0))`,
    LOG_IMPORT,
  );
  t.after(() => handle.close());
  const r = await handle.call({ hook: 'on_reload' });
  assert.equal(r.outcome, 'trap');
  assert.equal(r.trapKind, 'bad pointer');
  assert.match(r.message, /^bext\.log: message range \[999999999, 1000000003\) outside memory of 65536 bytes$/);
  assert.deepEqual(guestLines(logs), [], 'the log call after the caught fault did not run');
  // The instance stays loaded and the next call is served as usual.
  assert.equal((await handle.call({ hook: 'on_server_stop' })).outcome, 'ok');
  assert.deepEqual(guestLines(logs), ['next call']);
  // And the fault is not remembered past its own call.
  assert.equal((await handle.call({ hook: 'on_server_stop' })).outcome, 'ok');
});

test('proc_exit caught by catch_all still ends the call', async (t) => {
  const { handle, logs } = await loadEh(
    `(func (export "on_reload") (result i32)
       (try (do (call $proc_exit (i32.const 3))) (catch_all))
       (try (do (call $log (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 15))) (catch_all))
       (i32.const 0))`,
    `${LOG_IMPORT} ${PROC_EXIT}`,
  );
  t.after(() => handle.close());
  const r = await handle.call({ hook: 'on_reload' });
  assert.equal(r.outcome, 'trap');
  assert.equal(r.trapKind, 'proc_exit');
  assert.match(r.message, /proc_exit\(3\)/);
  assert.deepEqual(guestLines(logs), []);
});

test('a guest that catches a fault and then spins still ends as the fault, not out of fuel', async (t) => {
  const { handle } = await loadEh(
    `(func (export "on_reload") (result i32)
       (try (do (call $log (i32.const 0) (i32.const 4) (i32.const -1) (i32.const 4))) (catch_all))
       (loop $forever (br $forever))
       (i32.const 0))`,
    LOG_IMPORT,
  );
  t.after(() => handle.close());
  const r = await handle.call({ hook: 'on_reload', budget: 100000 });
  assert.equal(r.outcome, 'trap');
  assert.equal(r.trapKind, 'bad pointer');
});
