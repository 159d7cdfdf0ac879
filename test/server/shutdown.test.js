// Shutdown: in-flight responses finish, new connections are refused, a second Ctrl-C exits at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { makeProject, writeConfig, writePlugin, startDev, sleep } from './helpers.js';

async function slowUpstream() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('begin;');
    if (req.url === '/forever') return; // never ends
    setTimeout(() => res.end('end'), 800);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

test('SIGTERM lets an in-flight response finish, refuses new connections, then exits 0', async () => {
  const up = await slowUpstream();
  const dir = makeProject();
  writePlugin(dir, 'rec.wasm');
  writeConfig(dir, `[server]\nupstream = "http://127.0.0.1:${up.address().port}"\n[plugins.rec]\npath = "./plugins/rec.wasm"\n`);
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const res = await request(dev.url + 'slow');
    const bodyP = res.body.text();
    await sleep(100);
    dev.child.kill('SIGTERM');
    await sleep(200);
    await assert.rejects(request(dev.url + 'late'), /ECONNREFUSED|other side closed|SocketError/);
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

test('a second Ctrl-C exits at once', async () => {
  const up = await slowUpstream();
  const dir = makeProject();
  writeConfig(dir, `[server]\nupstream = "http://127.0.0.1:${up.address().port}"\n`);
  const dev = await startDev(dir, { args: ['--no-watch'] });
  try {
    const res = await request(dev.url + 'forever');
    res.body.resume().on('error', () => {});
    // One keypress delivered twice (terminal + a wrapper forwarding it) is still one Ctrl-C.
    dev.child.kill('SIGINT');
    dev.child.kill('SIGINT');
    await sleep(800);
    assert.equal(dev.child.exitCode, null, 'still waiting for the in-flight response');
    const t = Date.now();
    dev.child.kill('SIGINT');
    const exit = await dev.exited;
    assert.ok(Date.now() - t < 2000, `took ${Date.now() - t} ms`);
    assert.equal(exit.code, 130);
    assert.match(dev.stderr(), /stopped at once/);
  } finally {
    up.closeAllConnections();
    up.close();
    await dev.stop('SIGKILL');
  }
});
