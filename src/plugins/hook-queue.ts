/**
 * Per-plugin queues for hooks that run off the request path (on_request_complete,
 * on_cache_write, on_cache_invalidate). Each plugin has its own queue and pump, so a slow or
 * looping plugin only delays its own events. The pump hands the plugin everything queued (up to a
 * batch size) at once, so a busy server pays one round trip to the plugin per batch, not per
 * event; the plugin still runs the calls one at a time, each metered on its own.
 *
 * Events are only ever dropped when a plugin is slower than the traffic: its queue is at its
 * bound, and then the oldest entry goes (stats count it per hook). A plugin that keeps up gets
 * every event, however busy the server is: batching makes delivery cheap enough that holding
 * events back to protect the responses would only lose them. When a queue starts dropping, the
 * owner hears of it once (onShedding, with the arrival and delivery rates), and again when the
 * plugin has caught up (the queue ran empty).
 */
import { performance } from 'node:perf_hooks';
import type { HookName } from '../config/types.js';
import { hookOf } from '../runtime/event-log.js';
import type { HookArgs } from '../runtime/types.js';

export type QueuedHookArgs = Extract<HookArgs, { hook: 'on_request_complete' | 'on_cache_write' | 'on_cache_invalidate' }>;
/** A queued call: its arguments, or an on_request_complete event by its sequence number in the event log (runtime/event-log.ts). */
export type QueuedItem = QueuedHookArgs | number;

/**
 * Runs queued calls in order; resolves with how many ran. Fewer than given means the last one
 * that ran stopped the plugin (timeout, crash): the others go back to the front of the queue.
 */
export type HookCaller = (items: QueuedItem[]) => Promise<number>;

const noRelease = (): void => {};

/** Most calls handed to a plugin at once. */
export const DEFAULT_MAX_BATCH = 64;

const yieldToIO = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A spell of dropping: from the first overflow until the queue next runs empty. */
export interface Shedding {
  /** Epoch ms of the first drop. */
  since: number;
  /** Epoch ms the queue ran empty again; null while still dropping. */
  until: number | null;
  /** Events queued per second (measured over the last second or so before `since`, then over the spell). */
  arrivingPerSec: number;
  /** Calls the plugin completed per second, same windows. */
  deliveredPerSec: number;
  /** Events dropped per second (over the spell once it ended; before that, arriving − delivered). */
  droppedPerSec: number;
  dropped: number;
}

/**
 * While the server thread is saturated, the pump waits up to this long between batches so each
 * batch carries many events: one round trip to the plugin for about a thousand events instead of
 * one for every few (each round trip wakes the worker, which on a VM costs the server thread tens
 * of µs in Atomics.notify). Nothing is dropped for it: the pause ends as soon as a quarter of the queue's
 * bound is waiting (BUSY_FILL), whatever the rate, so most of the queue stays free for a worker
 * that gets no CPU for a while.
 */
const BUSY_BATCH_PAUSE_MS = 50;
const BUSY_FILL = 0.25;
/** Most calls handed over at once while saturated (the runtime sends up to MAX_BATCH, 1,024, per wake-up of the worker). */
const BUSY_MAX_BATCH = 1024;

/** Above this share of time busy, the server thread counts as saturated (see serverBusy). */
const BUSY_UTILIZATION = 0.5;
const BUSY_WINDOW_MS = 50;
let busyAt = 0;
let busyElu = performance.eventLoopUtilization();
let busy = false;

/**
 * Whether the server thread spent more than half of the last ~50 ms working (a load test, not
 * someone using the site). Shared by every queue; re-measured at most once per window.
 */
function serverBusy(): boolean {
  const now = performance.now();
  if (now - busyAt >= BUSY_WINDOW_MS) {
    const elu = performance.eventLoopUtilization();
    // After a quiet spell (no events, so no one asked) the old window says nothing about now:
    // start a new one, and until it is full the server counts as not busy.
    busy = now - busyAt < 4 * BUSY_WINDOW_MS && performance.eventLoopUtilization(elu, busyElu).utilization > BUSY_UTILIZATION;
    busyElu = elu;
    busyAt = now;
  }
  return busy;
}

/** Rates are measured over windows of at least this long. */
const RATE_WINDOW_MS = 1_000;

/**
 * on_request_complete arguments for one response, shared by every plugin's queue. The JSON is
 * made once, when the first plugin's batch is sent (an event every queue drops is never made).
 */
export class QueuedEvent<E extends object = object> {
  readonly hook = 'on_request_complete' as const;
  private json: string | null = null;
  /** Let go once the JSON is made: an event waits in the queues for a while, and what survives a young-generation GC is copied. */
  private event: E | null;

  constructor(
    event: E,
    private readonly toJson: (event: E) => string = JSON.stringify,
  ) {
    this.event = event;
  }

  get eventJson(): string {
    if (this.json === null) {
      this.json = this.toJson(this.event!);
      this.event = null;
    }
    return this.json;
  }
}

export class HookQueue {
  private readonly ring: (QueuedItem | undefined)[];
  private head = 0;
  private count = 0;
  private running = false;
  private paused = false;
  private idleWaiters: (() => void)[] = [];
  private dropped = 0;
  // Arrival and delivery counts, and where the current and previous rate windows began.
  private arrived = 0;
  private delivered = 0;
  private window = { at: performance.now(), arrived: 0, delivered: 0 };
  private lastRates: { arriving: number; delivered: number } | null = null;
  private shedding: (Shedding & { startedAt: number; droppedBefore: number; arrivedBefore: number; deliveredBefore: number }) | null = null;
  /** Ends the pump's busy pause early (set while it waits); push calls it once BUSY_FILL of the queue is waiting. */
  private endPause: (() => void) | null = null;
  private readonly fillMark: number;

  constructor(
    readonly capacity: number,
    private call: HookCaller,
    private readonly onDrop: (hook: HookName, n: number) => void,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly maxBatch = DEFAULT_MAX_BATCH,
    private readonly onShedding: (s: Shedding) => void = () => {},
    /** An event of the log is no longer held by this queue (it ran, was dropped or forgotten). */
    private readonly release: (seq: number) => void = noRelease,
  ) {
    this.ring = new Array(Math.max(1, capacity));
    this.fillMark = Math.max(1, Math.floor(this.ring.length * BUSY_FILL));
  }

  get pending(): number {
    return this.count;
  }

  get droppedTotal(): number {
    return this.dropped;
  }

  /** Whether a call is in flight or queued. */
  get busy(): boolean {
    return this.running || this.count > 0;
  }

  push(args: QueuedItem): void {
    const cap = this.ring.length;
    // Rates over a window that began before a quiet spell would be those of the quiet spell
    // averaged with what follows: a burst after a quiet minute would be reported as a trickle.
    if (this.count === 0 && !this.running) this.restartIdleWindow();
    this.arrived++;
    if (this.count === cap) {
      const oldest = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % cap;
      this.count--;
      this.dropItem(oldest);
      if (this.shedding === null) this.startShedding();
    }
    this.ring[(this.head + this.count) % cap] = args;
    this.count++;
    if (!this.running && !this.paused) void this.pump();
    else if (this.endPause !== null && this.count >= this.fillMark) this.endPause();
  }

  private dropItem(item: QueuedItem): void {
    this.dropped++;
    this.onDrop(hookOf(item), 1);
    this.let(item);
  }

  /** Lets go of an event of the log (no-op for arguments). */
  private let(item: QueuedItem): void {
    if (typeof item === 'number') this.release(item);
  }

  private take(): QueuedItem | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    return item;
  }

  /** Puts calls that did not run back in front, oldest first; what no longer fits is dropped. */
  private requeue(items: QueuedItem[]): void {
    const cap = this.ring.length;
    const fits = Math.min(items.length, cap - this.count);
    const lost = items.length - fits;
    // They are older than anything queued since, so the oldest of them are the ones to drop.
    for (let i = 0; i < lost; i++) this.dropItem(items[i]!);
    for (let i = items.length - 1; i >= lost; i--) {
      this.head = (this.head - 1 + cap) % cap;
      this.ring[this.head] = items[i];
      this.count++;
    }
  }

  /** The queue is idle: a rate window at least RATE_WINDOW_MS old starts again now, forgetting the last one. */
  private restartIdleWindow(): void {
    const now = performance.now();
    if (now - this.window.at < RATE_WINDOW_MS) return;
    this.window = { at: now, arrived: this.arrived, delivered: this.delivered };
    this.lastRates = null;
  }

  /** Events per second arriving and delivered, over the current window (or the last full one). */
  private rates(now: number): { arriving: number; delivered: number } {
    const w = this.window;
    const ms = now - w.at;
    if (ms >= RATE_WINDOW_MS || (this.lastRates === null && ms > 0)) {
      const r = { arriving: ((this.arrived - w.arrived) * 1000) / ms, delivered: ((this.delivered - w.delivered) * 1000) / ms };
      if (ms >= RATE_WINDOW_MS) {
        this.lastRates = r;
        this.window = { at: now, arrived: this.arrived, delivered: this.delivered };
      }
      return r;
    }
    return this.lastRates ?? { arriving: 0, delivered: 0 };
  }

  /**
   * Waits between batches while saturated: BUSY_BATCH_PAUSE_MS, or until BUSY_FILL of the queue
   * is waiting. The fill ends it rather than a pause worked out from the arrival rate: at the start
   * of a burst the last rate says nothing, and at 50k events/s a 20 ms pause alone fills the queue.
   */
  private busyPause(): Promise<void> {
    if (this.count >= this.fillMark) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.endPause = null;
        resolve();
      }, BUSY_BATCH_PAUSE_MS);
      this.endPause = () => {
        this.endPause = null;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private startShedding(): void {
    const now = performance.now();
    const r = this.rates(now);
    this.shedding = {
      since: Date.now(),
      until: null,
      arrivingPerSec: Math.round(r.arriving),
      deliveredPerSec: Math.round(r.delivered),
      droppedPerSec: Math.max(0, Math.round(r.arriving - r.delivered)),
      dropped: 1,
      startedAt: now,
      droppedBefore: this.dropped - 1,
      arrivedBefore: this.arrived - 1,
      deliveredBefore: this.delivered,
    };
    this.onShedding(this.publicShedding());
  }

  private endShedding(): void {
    const s = this.shedding!;
    const secs = Math.max(0.001, (performance.now() - s.startedAt) / 1000);
    s.until = Date.now();
    s.dropped = this.dropped - s.droppedBefore;
    s.arrivingPerSec = Math.round((this.arrived - s.arrivedBefore) / secs);
    s.deliveredPerSec = Math.round((this.delivered - s.deliveredBefore) / secs);
    s.droppedPerSec = Math.round(s.dropped / secs);
    this.onShedding(this.publicShedding());
    this.shedding = null;
  }

  private publicShedding(): Shedding {
    const { since, until, arrivingPerSec, deliveredPerSec, droppedPerSec, dropped } = this.shedding!;
    return { since, until, arrivingPerSec, deliveredPerSec, droppedPerSec, dropped };
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (!this.paused) {
        // Yield to pending I/O first: under load, answering requests comes before delivering
        // events. Meanwhile more events queue up, and the next batch carries them all; while the
        // server is saturated, the pause is longer so batches are large (see BUSY_BATCH_PAUSE_MS).
        const saturated = serverBusy();
        if (saturated) await this.busyPause();
        else await yieldToIO();
        if (this.paused) break;
        const n = Math.min(this.count, saturated ? Math.max(this.maxBatch, BUSY_MAX_BATCH) : this.maxBatch);
        if (n === 0) break;
        const items = new Array<QueuedItem>(n);
        for (let i = 0; i < n; i++) items[i] = this.take()!;
        let ran = n;
        try {
          ran = await this.call(items);
        } catch (err) {
          this.onError(err);
        }
        this.delivered += Math.min(ran, n);
        // At least one call is used up per batch, so a plugin that keeps failing cannot stall the queue.
        const used = ran < n ? Math.max(1, ran) : n;
        for (let i = 0; i < used; i++) this.let(items[i]!);
        if (ran < n) this.requeue(items.slice(used));
        this.rates(performance.now());
        if (this.count === 0 && this.shedding !== null) this.endShedding();
      }
    } finally {
      this.running = false;
      this.wakeIdle();
    }
  }

  private wakeIdle(): void {
    if (this.running || (this.count > 0 && !this.paused)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no call is in flight (and, unless paused, the queue is empty). */
  private idle(): Promise<void> {
    if (!this.running && (this.count === 0 || this.paused)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits until the queue is empty; false when `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.paused) this.resume();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = this.idle().then(() => true);
    const ok = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    return ok;
  }

  /** Stops taking new items and waits for the call in flight (items keep queueing). */
  async pause(): Promise<void> {
    this.paused = true;
    await this.idle();
  }

  /** Swaps the target (a reloaded plugin) and resumes pumping. */
  resume(call?: HookCaller): void {
    if (call) this.call = call;
    this.paused = false;
    if (!this.running && this.count > 0) void this.pump();
  }

  /** Drops everything queued, counting each as dropped (shutdown gave up waiting); returns how many. */
  dropAll(): number {
    let n = 0;
    for (let item = this.take(); item !== undefined; item = this.take()) {
      this.dropItem(item);
      n++;
    }
    this.wakeIdle();
    return n;
  }

  /** Forgets everything queued (the plugin went away); returns how many were discarded. */
  discard(): number {
    const n = this.count;
    for (let item = this.take(); item !== undefined; item = this.take()) this.let(item);
    if (this.shedding !== null) this.endShedding();
    this.wakeIdle();
    return n;
  }
}
