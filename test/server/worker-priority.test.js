// On Linux each plugin worker thread of `bext dev` runs nicer than the server thread, so that under
// load a worker woken with a batch of events does not take the CPU from the thread answering
// requests (src/runtime/thread-priority.ts). Read from /proc as `top -H` would show it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN } from '../helpers/cli.js';
import { ownChild } from '../helpers/cleanup.js';
import { wat } from '../helpers/wasm.js';
import { makeProject, writeConfig, startDev, sleep } from './helpers.js';
import { WORKER_NICENESS } from '../../dist/runtime/thread-priority.js';

const linux = process.platform === 'linux';

const NOOP = `(module
  (memory (export "memory") 1)
  (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "on_request_complete") (param i32 i32)))`;

/** Niceness of each thread of process `pid`: {tid: nice}. */
function threadNiceness(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    // Fields after the command name, which is in parentheses and may hold spaces: nice is field 19.
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    out[tid] = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  }
  return out;
}

function projectWith(plugins) {
  const dir = makeProject({ 'index.html': '<h1>hi</h1>' });
  writeFileSync(path.join(dir, 'plugins', 'noop.wasm'), wat(NOOP));
  writeConfig(dir, '[server]\nroot = "./public"\n' + plugins.map((n) => `[plugins.${n}]\npath = "./plugins/noop.wasm"\n`).join(''));
  return dir;
}

/** Waits until stats at `url` count an on_request_complete call in each of `plugins` (their workers ran). */
async function eventsReached(url, plugins) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await (await fetch(`${url}__bext/stats`)).json();
    if (plugins.every((p) => s.plugins[p]?.hooks.find((h) => h.hook === 'on_request_complete')?.calls >= 1)) return;
    assert.ok(Date.now() < deadline, `no on_request_complete call in every plugin: ${JSON.stringify(s.plugins)}`);
    await sleep(25);
  }
}

/** Waits until `count` threads of `pid` run at `nice`, then a little longer to see that no more appear. */
async function nicedThreads(pid, nice, count) {
  const deadline = Date.now() + 10_000;
  let niced = [];
  while (Date.now() < deadline) {
    niced = Object.entries(threadNiceness(pid)).filter(([, n]) => n === nice);
    if (niced.length >= count) break;
    await sleep(50);
  }
  await sleep(300);
  return Object.entries(threadNiceness(pid)).filter(([, n]) => n === nice);
}

test('each plugin worker thread runs at niceness 10, the server thread and the rest at 0', { skip: !linux && 'thread niceness is Linux-only' }, async (t) => {
  const plugins = ['one', 'two', 'three'];
  const dev = await startDev(projectWith(plugins), { args: ['--no-watch'] });
  t.after(() => dev.stop());
  const res = await fetch(dev.url);
  assert.equal(res.status, 200);
  await res.text();
  const pid = dev.child.pid;
  const niced = await nicedThreads(pid, WORKER_NICENESS, plugins.length);
  assert.equal(niced.length, plugins.length, `threads at niceness ${WORKER_NICENESS}: ${JSON.stringify(threadNiceness(pid))}`);
  const all = threadNiceness(pid);
  assert.equal(all[String(pid)], 0, 'the server (main) thread keeps its priority');
  for (const [tid, n] of Object.entries(all)) assert.ok(n === 0 || n === WORKER_NICENESS, `thread ${tid} at niceness ${n}`);
  // The plugins answer at that priority: stats count the request's event for each of them.
  await eventsReached(dev.url, plugins);
});

test('a server started nicer than that keeps its workers at its own niceness, never raised', { skip: !linux && 'thread niceness is Linux-only' }, async (t) => {
  const plugins = ['one', 'two'];
  const dir = projectWith(plugins);
  const child = ownChild(
    spawn('nice', ['-n', '15', process.execPath, BIN, 'dev', '-c', path.join(dir, 'bext.config.toml'), '-p', '0', '--no-watch'], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!/Local:\s+http/.test(out)) {
    assert.ok(Date.now() < deadline, `bext dev not ready:\n${out}`);
    await sleep(25);
  }
  // Every worker has run its entry (and so had its say on its priority) once its plugin got an event.
  const url = /Local:\s+(http:\/\/\S+)/.exec(out)[1];
  const res = await fetch(url);
  assert.equal(res.status, 200);
  await res.text();
  await eventsReached(url, plugins);
  // `nice` execs node, so the child's pid is the server's.
  const all = threadNiceness(child.pid);
  assert.ok(Object.keys(all).length > 4, JSON.stringify(all));
  for (const [tid, n] of Object.entries(all)) assert.equal(n, 15, `thread ${tid} of ${JSON.stringify(all)}`);
});
