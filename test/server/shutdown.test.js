// Shutdown: in-flight responses finish, new connections are refused, a second Ctrl-C exits at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { once } from 'node:events';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeProject, writeConfig, writePlugin, startDev, sleep } from './helpers.js';
import { bextSpawn } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';

/** An upstream whose responses send "begin;" and end with "end" only once `release()` is called (/forever: never). */
async function slowUpstream() {
  let release;
  const released = new Promise((r) => (release = r));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('begin;');
    if (req.url === '/forever') return; // never ends
    released.then(() => res.end('end'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.release = release;
  return server;
}

/** Resolves once a new TCP connection to `url` is refused (bext closed its listening socket). */
async function refusedAt(url, ms = 20_000) {
  const { port, hostname } = new URL(url);
  const end = Date.now() + ms;
  for (;;) {
    const code = await new Promise((resolve) => {
      const sock = net.connect(Number(port), hostname);
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (err) => resolve(err.code));
    });
    if (code === 'ECONNREFUSED') return;
    if (Date.now() > end) throw new Error(`new connections to ${url} still ${code} after ${ms} ms`);
    await sleep(25);
  }
}

test('SIGTERM lets an in-flight response finish, refuses new connections, then exits 0', async () => {
  const up = await slowUpstream();
  const dir = makeProject();
  writePlugin(dir, 'rec.wasm');
  // A drain bound (2 s by default) that cannot run out while this test holds the response.
  writeConfig(dir, `[server]\nupstream = "http://127.0.0.1:${up.address().port}"\nshutdown_drain_ms = 60000\n[plugins.rec]\npath = "./plugins/rec.wasm"\n`);
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const res = await request(dev.url + 'slow');
    const bodyP = res.body.text();
    dev.child.kill('SIGTERM');
    // The upstream holds the response until released: bext cannot have finished it, nor exited.
    await refusedAt(dev.url);
    await assert.rejects(request(dev.url + 'late'), /ECONNREFUSED|other side closed|SocketError/);
    assert.equal(dev.child.exitCode, null, 'still running: the in-flight response is not done');
    up.release();
    assert.equal(await bodyP, 'begin;end');
    const exit = await dev.exited;
    assert.equal(exit.code, 0);
    // The event of the in-flight request was still delivered before on_server_stop.
    const g = dev.guest('rec');
    const ev = g.findIndex((m) => m.startsWith('v1 event ') && m.includes('"/slow"'));
    assert.ok(ev >= 0, g.join('\n'));
    assert.ok(ev < g.indexOf('v1 stop') && g.indexOf('v1 stop') < g.indexOf('v1 cleanup'));
  } finally {
    up.closeAllConnections();
    up.close();
    await dev.stop('SIGKILL');
  }
});

test('a second Ctrl-C exits at once', async (t) => {
  const up = await slowUpstream();
  const dir = makeProject();
  // A drain bound of 10 minutes: without the second Ctrl-C, bext waits for the response that never ends.
  writeConfig(dir, `[server]\nupstream = "http://127.0.0.1:${up.address().port}"\nshutdown_drain_ms = 600000\n`);
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const res = await request(dev.url + 'forever');
    res.body.resume().on('error', () => {});
    // One keypress delivered twice (terminal + a wrapper forwarding it) is still one Ctrl-C.
    dev.child.kill('SIGINT');
    dev.child.kill('SIGINT');
    await dev.waitFor(() => /SIGINT: shutting down/.test(dev.stderr()), 20_000, 'the shutdown line');
    // bext counts signals closer than 500 ms as one: this one comes later than that after the
    // first was handled (its line was already written), as a second press would.
    await sleep(700);
    assert.equal(dev.child.exitCode, null, 'still waiting for the in-flight response');
    const t0 = Date.now();
    dev.child.kill('SIGINT');
    const exit = await Promise.race([dev.exited, sleep(60_000).then(() => null)]);
    assert.ok(exit, 'bext still running a minute after the second Ctrl-C');
    t.diagnostic(`exited ${Date.now() - t0} ms after the second Ctrl-C`);
    assert.equal(exit.code, 130);
    assert.match(dev.stderr(), /stopped at once/);
  } finally {
    up.closeAllConnections();
    up.close();
    await dev.stop('SIGKILL');
  }
});

test('a SIGTERM the moment the banner shows still shuts down cleanly (exit 0, the shutdown line)', async () => {
  const dir = makeProject();
  writeConfig(dir, '[server]\nroot = "./public"\n');
  for (let i = 0; i < 4; i++) {
    const child = bextSpawn(['dev', '-c', path.join(dir, 'bext.config.toml'), '-p', '0', '--no-watch'], { cwd: dir, env: { BEXT_LOG_FORMAT: 'json' } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    let sent = false;
    child.stdout.on('data', () => {
      if (!sent) child.kill('SIGTERM');
      sent = true;
    });
    const [code, signal] = await once(child, 'close');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, err);
    assert.match(err, /SIGTERM: shutting down/);
  }
});

test('a SIGTERM while plugins start stops bext once start-up has finished', async () => {
  // on_server_start fetches from this server, which signals bext while the hook waits on it.
  let child;
  const up = http.createServer((req, res) => {
    child.kill('SIGTERM');
    setTimeout(() => res.end('{}'), 400);
  });
  await new Promise((r) => up.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${up.address().port}/ping`;
  const req = `{"url":"${url}"}`;
  const dir = makeProject();
  const slow = wat(`(module (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
    (memory (export "memory") 1)
    (func (export "bext_alloc") (param i32) (result i32) (i32.const 4096))
    (data (i32.const 0) ${JSON.stringify(req)})
    (func (export "on_server_start") (param i32 i32) (result i32)
      (drop (call $fetch (i32.const 0) (i32.const ${req.length})))
      (i32.const 0)))`);
  writeFileSync(path.join(dir, 'plugins', 'slow.wasm'), slow);
  writeConfig(dir, `[server]\nroot = "./public"\n[plugins.slow]\npath = "./plugins/slow.wasm"\n[plugins.slow.permissions]\nallowed_urls = ["${url}"]\n`);
  try {
    child = bextSpawn(['dev', '-c', path.join(dir, 'bext.config.toml'), '-p', '0', '--no-watch'], { cwd: dir, env: { BEXT_LOG_FORMAT: 'json' } });
    let err = '';
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const [code, signal] = await once(child, 'close');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, err);
    assert.match(out, /Local:/, 'start-up finished and the server came up before stopping');
    assert.match(err, /SIGTERM: stopping once start-up has finished/);
    assert.match(err, /SIGTERM: shutting down/);
  } finally {
    up.close();
  }
});
