/**
 * Protocol upgrades (WebSocket: the HMR channel of the app's dev server) passed through to the
 * upstream. bext writes the upgrade request itself, then waits for the upstream's answer before it
 * relays a single client byte: bytes sent before the 101 would reach the upstream as a request
 * bext never saw (request smuggling). A WebSocket client may not send before the 101 (RFC 6455
 * §4.1), so such bytes, whether in the upgrade request's own packet (`head`) or arriving while the
 * upstream is still answering, close the connection. A non-101 answer is relayed to the client and
 * the connection then ends; nothing the client sends after it is forwarded.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

/** An upstream that sends more than this before finishing its response head is cut off. */
const MAX_RESPONSE_HEAD = 64 * 1024;
/** From connecting to the end of the upstream's response head. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

export interface UpgradeRequest {
  upstream: URL;
  /** Path and query sent to the upstream (already checked, starts with `/`). */
  path: string;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

function refuse(socket: Duplex, status: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  socket.destroy();
}

function requestHead(req: IncomingMessage, path: string, host: string): string {
  const lines = [`${req.method} ${path} HTTP/1.1`, `host: ${host}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    if (name.toLowerCase() === 'host') continue;
    lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

export function pipeUpgrade({ upstream, path, req, socket, head }: UpgradeRequest): void {
  socket.on('error', () => socket.destroy());
  if (head.length > 0) {
    refuse(socket, '400 Bad Request');
    return;
  }
  const secure = upstream.protocol === 'https:';
  const port = Number(upstream.port || (secure ? 443 : 80));
  const host = upstream.hostname.replace(/^\[|\]$/g, '');
  const up = secure ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
  let open = false;
  let relayed = false;

  const closeBoth = (): void => {
    socket.destroy();
    up.destroy();
  };
  const fail = (status: string): void => {
    if (!relayed) refuse(socket, status);
    closeBoth();
  };
  // Client bytes before the upstream accepted: never forwarded.
  const early = (): void => closeBoth();
  socket.on('data', early);
  socket.once('close', () => up.destroy());
  up.on('error', () => fail('502 Bad Gateway'));
  up.once('close', () => socket.destroy());
  up.setTimeout(HANDSHAKE_TIMEOUT_MS, () => fail('504 Gateway Timeout'));

  up.once(secure ? 'secureConnect' : 'connect', () => up.write(requestHead(req, path, upstream.host)));

  let buf = Buffer.alloc(0);
  const onHead = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > MAX_RESPONSE_HEAD) fail('502 Bad Gateway');
      return;
    }
    up.off('data', onHead);
    up.setTimeout(0);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, end).toString('latin1'));
    relayed = true;
    socket.write(buf);
    if (status?.[1] !== '101') {
      // Relay the rest of the upstream's answer; the client gets nothing more through.
      up.pipe(socket);
      return;
    }
    open = true;
    socket.off('data', early);
    up.pipe(socket);
    socket.pipe(up);
    // HTTP server sockets allow half-open connections; a tunnel does not: when one side
    // finishes, finish both so neither socket lingers.
    socket.once('end', () => {
      up.end();
      socket.end();
    });
    up.once('end', () => {
      socket.end();
      up.end();
    });
  };
  up.on('data', onHead);
  up.once('end', () => {
    if (!open) socket.end();
  });
}
