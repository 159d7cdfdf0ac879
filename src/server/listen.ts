/**
 * The node:http server around the request handler: WebSocket/HMR upgrades go to the upstream
 * proxy (and are tracked, since shutdown must close them itself), malformed requests get a bare
 * 400, and listen errors become BextErrors with a hint.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { BextError } from '../errors.js';
import type { ServerContext } from './context.js';
import type { RequestHandler } from './request.js';
import { requestTarget } from './request-target.js';

export interface HttpServer {
  server: http.Server;
  /** Upgraded sockets: they live outside the HTTP server's bookkeeping and stay open indefinitely. */
  upgraded: Set<Duplex>;
}

export function createHttpServer(ctx: ServerContext, requests: RequestHandler): HttpServer {
  const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => requests.handle(req, res));
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket, head) => {
    const proxy = ctx.origins.proxy();
    if (!proxy || ctx.closing) {
      socket.destroy();
      return;
    }
    const target = requestTarget(ctx, req);
    if (!target.ok) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    proxy.upgrade(req, target.path + target.search, socket, head);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return { server, upgraded };
}

/** Listens; resolves with the bound port, or rejects with a BextError that says what to do. */
export async function listen(server: http.Server, port: number, host: string): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, host, port);
  }
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

export function formatUrl(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${h}:${port}/`;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): BextError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new BextError('port_in_use', `port ${port} on ${host} is already in use`, {
        details: [`  hint: stop the other server, or pick another port with -p, e.g. bext dev -p ${port + 1} (-p 0 picks any free port)`],
      });
    case 'EACCES':
      return new BextError('port_denied', `not allowed to listen on ${host}:${port}`, {
        details: ['  hint: ports below 1024 need extra privileges; pick another with -p, e.g. -p 3000'],
      });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BextError('listen_failed', `cannot listen on ${host}: it is not an address of this machine`, {
        details: ['  hint: use --host 127.0.0.1 (default) or --host 0.0.0.0 to listen on every interface'],
      });
    default:
      return new BextError('listen_failed', `cannot listen on ${host}:${port}: ${err.message}`);
  }
}
