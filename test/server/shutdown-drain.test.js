// Shutdown with a backed-up event queue is bounded by server.shutdown_drain_ms: the call running
// finishes, the rest of the queue is dropped, and the drop is logged and counted in stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { makeProject, writeConfig, startDev } from './helpers.js';

// on_request_complete waits 300 ms of wall time (WASI clock), so queued events pile up.
const SLOW = wat(`(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func $t (result i64) (drop (call $now (i32.const 1) (i64.const 1) (i32.const 0))) (i64.load (i32.const 0)))
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_request_complete") (param i32 i32)
    (local $end i64)
    (local.set $end (i64.add (call $t) (i64.const 300000000)))
    (loop $wait (br_if $wait (i64.lt_u (call $t) (local.get $end))))))`);

test('SIGTERM with a backed-up queue exits within the drain bound and reports the dropped events', async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  writeFileSync(path.join(dir, 'plugins', 'slow.wasm'), SLOW);
  writeConfig(dir, '[server]\nroot = "./public"\nshutdown_drain_ms = 1000\n[plugins.slow]\npath = "./plugins/slow.wasm"\n[plugins.slow.fuel]\non_request_complete = 5_000_000_000\n');
  const dev = await startDev(dir, { args: ['--no-watch'] });
  t.after(() => dev.stop('SIGKILL'));
  // 150 events = 45 s of plugin work queued.
  const first = Date.now();
  for (let i = 0; i < 150; i++) await (await fetch(`${dev.url}?n=${i}`)).text();
  const started = Date.now();
  dev.child.kill('SIGTERM');
  const exit = await dev.exited;
  const took = Date.now() - started;
  assert.equal(exit.code, 0, dev.stderr());
  // 1 s of waiting, the one call running (300 ms), on_server_stop/cleanup and closing (a few s
  // more on a loaded machine): far from the tens of seconds the queue holds.
  assert.ok(took < 20_000, `shutdown took ${took} ms`);
  const line = dev.logs().find((l) => /^shutdown: [\d,]+ queued event\(s\) dropped after waiting 1,000 ms/.test(l.msg));
  assert.ok(line, dev.stderr());
  const dropped = line.droppedAtShutdown.slow;
  t.diagnostic(`shutdown took ${took} ms; ${dropped} of 150 events dropped`);
  // Each call takes 300 ms of wall time: from the first request to the exit, at most this many ran.
  const couldRun = Math.ceil((Date.now() - first) / 300) + 1;
  assert.ok(dropped >= 150 - couldRun && dropped < 150, `dropped ${dropped}; at most ${couldRun} calls could run`);
  assert.match(line.msg, new RegExp(`: slow ${dropped.toLocaleString('en-US')}; counted as dropped in stats$`));

  const stats = bext(['plugin', 'stats', 'slow', '--json'], { cwd: dir });
  assert.equal(stats.code, 0, stats.stderr);
  const hook = JSON.parse(stats.stdout).plugins.slow.hooks.find((h) => h.hook === 'on_request_complete');
  assert.equal(hook.outcomes.dropped ?? hook.dropped, dropped);
  assert.equal(hook.calls + dropped, 150);
});
