/**
 * The dashboard's live stream: hook calls, failures, loads and log lines as Server-Sent Events on
 * `GET /__bext/events`. A new subscriber first gets the recent events (so the panel is not empty),
 * then each one as it happens.
 *
 * Bounded everywhere: under load a server makes thousands of hook calls a second, which no page
 * can show, so plain `call` events are limited to CALLS_PER_SECOND (the rest are counted and
 * reported as one `skipped` event a second); failures, loads and log lines always go out. A
 * subscriber whose socket does not drain (a paused tab, a slow client) gets no more writes until
 * it does, and the events in between are counted as skipped for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openEventStream } from './event-stream.js';

export type LiveEventType = 'call' | 'failure' | 'load' | 'load_failed' | 'log' | 'skipped' | 'reset';

export interface LiveEvent {
  id: number;
  type: LiveEventType;
  at: number;
  data: Record<string, unknown>;
}

const RECENT = 200;
const CALLS_PER_SECOND = 50;
const RETRY_MS = 2_000;

interface Subscriber {
  res: ServerResponse;
  blocked: boolean;
  missed: number;
}

export interface LiveFeed {
  publish(type: LiveEventType, data: Record<string, unknown>): void;
  /**
   * Publishes a `call` event whose data `make` returns: made only when it goes out (past the
   * per-second allowance it is counted as skipped, as publish('call') does).
   */
  publishCall(make: () => Record<string, unknown>): void;
  /** publishCall for `n` calls at once: make(i) builds the i-th, while the allowance lasts. */
  publishCalls(n: number, make: (i: number) => Record<string, unknown>): void;
  /** Takes over `res` as an event stream until the client goes away or close() is called. */
  subscribe(req: IncomingMessage, res: ServerResponse): void;
  subscribers(): number;
  recent(): LiveEvent[];
  /** Ends every stream (at shutdown, before waiting for open responses). */
  close(): void;
}

function frame(e: LiveEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ at: e.at, ...e.data })}\n\n`;
}

export function createLiveFeed(now: () => number = Date.now): LiveFeed {
  const subs = new Set<Subscriber>();
  const recent: LiveEvent[] = [];
  let nextId = 1;
  let windowStart = 0;
  let callsInWindow = 0;
  let skippedCalls = 0;
  let closed = false;

  const tick = setInterval(() => {
    if (skippedCalls > 0) {
      const n = skippedCalls;
      skippedCalls = 0;
      emit('skipped', { calls: n, reason: `more than ${CALLS_PER_SECOND} calls a second; counted in the tables, not listed here` });
    }
  }, 1000);
  tick.unref();

  function send(s: Subscriber, e: LiveEvent): void {
    if (s.blocked) {
      s.missed++;
      return;
    }
    if (!s.res.write(frame(e))) {
      s.blocked = true;
      s.res.once('drain', () => {
        s.blocked = false;
        if (s.missed > 0) {
          const missed = s.missed;
          s.missed = 0;
          send(s, { id: nextId++, type: 'skipped', at: now(), data: { events: missed, reason: 'this page did not keep up' } });
        }
      });
    }
  }

  function emit(type: LiveEventType, data: Record<string, unknown>): void {
    const e: LiveEvent = { id: nextId++, type, at: now(), data };
    recent.push(e);
    if (recent.length > RECENT) recent.shift();
    for (const s of subs) send(s, e);
  }

  /** Counts a `call` event against this second's allowance; false (and counted as skipped) past it. */
  function admitCall(): boolean {
    const t = now();
    if (t - windowStart >= 1000) {
      windowStart = t;
      callsInWindow = 0;
    }
    if (++callsInWindow > CALLS_PER_SECOND) {
      skippedCalls++;
      return false;
    }
    return true;
  }

  return {
    publish(type, data) {
      if (closed) return;
      if (type === 'call' && !admitCall()) return;
      emit(type, data);
    },
    publishCall(make) {
      if (closed || !admitCall()) return;
      emit('call', make());
    },
    publishCalls(n, make) {
      if (closed) return;
      for (let i = 0; i < n; i++) {
        if (!admitCall()) {
          // The rest are past this second's allowance too.
          skippedCalls += n - i - 1;
          return;
        }
        emit('call', make(i));
      }
    },
    subscribe(req, res) {
      if (closed) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('shutting down\n');
        return;
      }
      const s: Subscriber = { res, blocked: false, missed: 0 };
      openEventStream(req, res, { retryMs: RETRY_MS, writable: () => !s.blocked, onClose: () => subs.delete(s) });
      const last = Number(req.headers['last-event-id']);
      // A reconnecting EventSource names the last event it saw: send only what came after it.
      const replay = Number.isFinite(last) && last > 0 ? recent.filter((e) => e.id > last) : recent;
      for (const e of replay) send(s, e);
      subs.add(s);
    },
    subscribers: () => subs.size,
    recent: () => recent.slice(),
    close() {
      closed = true;
      clearInterval(tick);
      for (const s of subs) s.res.end();
      subs.clear();
    },
  };
}
