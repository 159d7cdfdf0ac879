/**
 * Graceful shutdown, in order: stop watching, stop accepting, let in-flight responses finish
 * (bounded), close what is left, drain the plugins' hook queues (bounded), on_server_stop and
 * cleanup, close the upstream pool, then flush and close stats.
 */
import type { StatsRecorder } from '../stats/index.js';
import type { ServerContext } from './context.js';
import type { HttpServer } from './listen.js';
import type { Reloader } from './reload.js';
import type { RequestHandler } from './request.js';

export interface ShutdownParts {
  ctx: ServerContext;
  reloader: Reloader;
  stats: StatsRecorder;
  /** Absent when the server never listened (startup failed). */
  http?: HttpServer;
  requests?: RequestHandler;
  /** Upper bound for finishing responses, and again for draining hook queues (ms). */
  drainMs: number;
}

export async function shutdown(reason: string, parts: ShutdownParts): Promise<void> {
  const { ctx, drainMs } = parts;
  ctx.closing = true;
  ctx.log.debug(`shutting down (${reason})`);
  await parts.reloader.close();
  if (parts.http) await closeHttp(parts.http, parts.requests, drainMs);
  if (!(await ctx.plugins.drain(drainMs))) {
    const left = Object.values(ctx.plugins.queueDepths()).reduce((n, d) => n + d.pending, 0);
    ctx.log.warn(`event queues did not drain within ${drainMs} ms; ${left} hook call(s) not delivered`);
  }
  await ctx.plugins.stop();
  await ctx.origins.close();
  try {
    parts.stats.flush();
  } finally {
    parts.stats.close();
  }
}

async function closeHttp({ server, upgraded }: HttpServer, requests: RequestHandler | undefined, drainMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  for (const socket of upgraded) socket.destroy();
  await requests?.idle(drainMs);
  server.closeAllConnections();
  await closed;
}
