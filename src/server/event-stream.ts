/**
 * The opening of a Server-Sent Events response, shared by the dashboard's live feed and the
 * browser live-reload stream: headers that keep it out of every cache and buffer, no Nagle delay
 * for small events, and a comment line now and then so idle-timeout proxies keep it open.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-bext-cache': 'BYPASS',
  // Proxies and compression middleware must pass events through at once.
  'x-accel-buffering': 'no',
} as const;

const HEARTBEAT_MS = 15_000;

export interface EventStreamOptions {
  /** The `retry:` reconnection delay sent to the client. */
  retryMs: number;
  /** False while the client is not reading (the heartbeat is skipped then). */
  writable?: () => boolean;
  /** Runs once when the client goes. */
  onClose: () => void;
}

/** Sends the headers and the retry line and starts the heartbeat; events are written by the caller. */
export function openEventStream(req: IncomingMessage, res: ServerResponse, opts: EventStreamOptions): void {
  res.writeHead(200, EVENT_STREAM_HEADERS);
  res.flushHeaders();
  req.socket.setNoDelay(true);
  res.write(`retry: ${opts.retryMs}\n\n`);
  const heartbeat = setInterval(() => {
    if (opts.writable?.() !== false) res.write(': ping\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  res.once('close', () => {
    clearInterval(heartbeat);
    opts.onClose();
  });
}
