/**
 * Graceful shutdown, in order: stop watching, stop accepting, let in-flight responses finish,
 * close what is left, drain the plugins' hook queues, on_server_stop and cleanup, close the
 * upstream pool, then flush and close stats. Responses and queues share one wait of `drainMs`
 * (server.shutdown_drain_ms); events still queued then are dropped, counted in stats and logged.
 */
import { thousands } from '../format.js';
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
  /** Upper bound for finishing responses and draining hook queues, together (ms). */
  drainMs: number;
}

export async function shutdown(reason: string, parts: ShutdownParts): Promise<void> {
  const { ctx, drainMs } = parts;
  ctx.closing = true;
  ctx.log.debug(`shutting down (${reason})`);
  await parts.reloader.close();
  const deadline = Date.now() + drainMs;
  if (parts.http) await closeHttp(parts.http, parts.requests, drainMs);
  if (!(await ctx.plugins.drain(Math.max(0, deadline - Date.now())))) {
    const dropped = await ctx.plugins.abandonQueued();
    const total = Object.values(dropped).reduce((a, b) => a + b, 0);
    const each = Object.entries(dropped).map(([name, n]) => `${name} ${thousands(n)}`).join(', ');
    ctx.log.warn(
      { droppedAtShutdown: dropped },
      `shutdown: ${thousands(total)} queued event(s) dropped after waiting ${thousands(drainMs)} ms (server.shutdown_drain_ms)${each ? `: ${each}` : ''}; counted as dropped in stats`,
    );
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
