// WebSocket upgrades through `bext dev`: nothing the client sends reaches the upstream before the
// upstream has answered 101, so no second request can be smuggled behind the upgrade. The upstream
// here is a raw node:net server that records every byte it receives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeProject, writeConfig, startDev, sleep } from './dev.js';

let dev;
let upstream;
const conns = [];
/** How the raw upstream answers an upgrade: delay (or a promise) before the 101, or a refusal. */
let mode = { delayMs: 0, status: 101 };

function record() {
  return conns.map((c) => c.data).join('');
}

before(async () => {
  upstream = net.createServer((sock) => {
    const conn = { data: '', sock };
    conns.push(conn);
    let answered = false;
    sock.on('data', (d) => {
      conn.data += d.toString('latin1');
      if (answered) {
        if (conn.data.includes('\r\n\r\n') && mode.status === 101) sock.write(`echo:${d}`);
        return;
      }
      if (!conn.data.includes('\r\n\r\n')) return;
      answered = true;
      const { delayMs = 0, status, hold } = mode;
      const answer = () => {
        if (sock.destroyed) return;
        if (status === 101) sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
        else sock.write(`HTTP/1.1 ${status} Nope\r\ncontent-length: 4\r\n\r\nnope`);
      };
      if (hold) hold.then(answer);
      else setTimeout(answer, delayMs);
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = makeProject({});
  writeConfig(dir, `[server]\nupstream = "http://127.0.0.1:${upstream.address().port}"\n`);
  dev = await startDev(dir, { args: ['--no-watch'] });
});

after(async () => {
  upstream.close();
  for (const c of conns) c.sock?.destroy();
  assert.equal((await dev.stop()).code, 0);
});

const UPGRADE = (path = '/hmr') =>
  `GET ${path} HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nhost: upstream\r\n\r\n';

/** Opens a raw connection to bext; resolves with helpers to write and read what comes back. */
function client() {
  const u = new URL(dev.url);
  const sock = net.connect(Number(u.port), '127.0.0.1');
  let got = '';
  let closed = false;
  sock.on('data', (d) => (got += d.toString('latin1')));
  sock.on('error', () => {});
  const done = new Promise((r) => sock.on('close', () => ((closed = true), r())));
  return { sock, got: () => got, closed: () => closed, done };
}

/** Quiet time before concluding that something did not reach the upstream. */
async function settle() {
  await sleep(300);
}

async function until(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits for bext to close the client connection (failing if it has not in 20 s). */
async function closedBy(c) {
  await Promise.race([c.done, sleep(20_000)]);
  assert.ok(c.closed(), `the connection was not closed; the client got:\n${c.got()}`);
}

test('bytes in the same packet as the upgrade request never reach the upstream', async () => {
  mode = { delayMs: 0, status: 101 };
  const before = conns.length;
  const c = client();
  c.sock.write(UPGRADE() + SMUGGLED);
  await closedBy(c);
  await settle();
  assert.ok(!record().includes('/smuggled'), `the upstream received:\n${record()}`);
  assert.ok(!c.got().startsWith('HTTP/1.1 101'), c.got());
  // Refused before connecting to the upstream at all.
  assert.equal(conns.length, before);
  c.sock.destroy();
});

test('bytes sent while the upstream has not answered 101 yet are not forwarded', async () => {
  // The 101 waits until the smuggled bytes were sent and bext has closed the connection.
  let release;
  mode = { status: 101, hold: new Promise((r) => (release = r)) };
  const c = client();
  c.sock.write(UPGRADE('/slow'));
  await until('the upgrade request at the upstream', () => record().includes('GET /slow HTTP/1.1'));
  c.sock.write(SMUGGLED);
  await closedBy(c);
  release();
  await settle();
  assert.ok(!record().includes('/smuggled'), `the upstream received:\n${record()}`);
  c.sock.destroy();
});

test('a refused upgrade is relayed to the client, and what the client sends next goes nowhere', async () => {
  mode = { delayMs: 0, status: 404 };
  const c = client();
  c.sock.write(UPGRADE('/refused'));
  await until('the refusal', () => c.got().includes('nope'));
  assert.match(c.got(), /^HTTP\/1\.1 404 Nope/);
  c.sock.write(SMUGGLED);
  await settle();
  assert.ok(!record().includes('/smuggled'), `the upstream received:\n${record()}`);
  c.sock.destroy();
});

test('after the 101 the tunnel carries data both ways', async () => {
  mode = { delayMs: 50, status: 101 };
  const c = client();
  c.sock.write(UPGRADE('/ok'));
  await until('the 101', () => c.got().includes('\r\n\r\n'));
  assert.match(c.got(), /^HTTP\/1\.1 101 /);
  c.sock.write('ping');
  await until('the echo', () => c.got().includes('echo:ping'));
  assert.ok(c.got().endsWith('echo:ping'), c.got());
  assert.ok(record().includes('GET /ok HTTP/1.1\r\nhost: 127.0.0.1:'), 'the upstream got its own host');
  c.sock.destroy();
});

test('an upgrade whose target names another host is a 400', async () => {
  const before = conns.length;
  const c = client();
  c.sock.write(UPGRADE('http://127.0.0.2:9/x'));
  await closedBy(c);
  assert.match(c.got(), /^HTTP\/1\.1 400/);
  assert.equal(conns.length, before);
  c.sock.destroy();
});
