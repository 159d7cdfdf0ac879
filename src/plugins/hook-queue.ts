/**
 * Per-plugin queues for hooks that run off the request path (on_request_complete,
 * on_cache_write, on_cache_invalidate). Each plugin has its own queue and pump, so a slow or
 * looping plugin only delays its own events. A full queue drops its oldest entry and reports
 * the drop (stats count it per hook). The pump hands the plugin everything queued (up to a
 * batch size) at once, so a busy server pays one round trip to the plugin per batch, not per
 * event; the plugin still runs the calls one at a time, each metered on its own.
 */
import { performance } from 'node:perf_hooks';
import type { HookName } from '../config/types.js';
import type { HookArgs } from '../runtime/types.js';

export type QueuedHookArgs = Extract<HookArgs, { hook: 'on_request_complete' | 'on_cache_write' | 'on_cache_invalidate' }>;

/**
 * Runs queued calls in order; resolves with how many ran. Fewer than given means the last one
 * that ran stopped the plugin (timeout, crash): the others go back to the front of the queue.
 */
export type HookCaller = (items: QueuedHookArgs[]) => Promise<number>;

/** Most calls handed to a plugin at once. */
export const DEFAULT_MAX_BATCH = 64;

const yieldToIO = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * While a queue overflows or the server is saturated, a batch of at most SHED_BATCH calls goes
 * out every SHED_PAUSE_MS (up to 1,600 calls/s per plugin): most events are shed anyway, and
 * every delivered event costs CPU the responses need.
 */
const SHED_PAUSE_MS = 10;
const SHED_BATCH = 16;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Above this share of time busy, the server thread counts as saturated (see serverBusy). */
const BUSY_UTILIZATION = 0.5;
const BUSY_WINDOW_MS = 50;
let busyAt = 0;
let busyElu = performance.eventLoopUtilization();
let busy = false;

/**
 * Whether the server thread spent more than half of the last ~50 ms working (a load test, not
 * someone using the site). A fast plugin keeps its queue from overflowing even then, but every
 * delivered event still costs CPU the responses need, so deliveries are spaced out as when
 * a queue overflows. Shared by every queue; re-measured at most once per window.
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

/**
 * on_request_complete arguments for one response, shared by every plugin's queue. The JSON is
 * made when the first plugin's batch is sent: at saturation most events are dropped unread.
 */
export class QueuedEvent {
  readonly hook = 'on_request_complete' as const;
  private json: string | null = null;

  constructor(private readonly event: object) {}

  get eventJson(): string {
    return (this.json ??= JSON.stringify(this.event));
  }
}

export class HookQueue {
  private readonly ring: (QueuedHookArgs | undefined)[];
  private head = 0;
  private count = 0;
  private running = false;
  private paused = false;
  private idleWaiters: (() => void)[] = [];
  private dropped = 0;
  private droppedAtLastCall = 0;

  constructor(
    readonly capacity: number,
    private call: HookCaller,
    private readonly onDrop: (hook: HookName, n: number) => void,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {
    this.ring = new Array(Math.max(1, capacity));
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

  push(args: QueuedHookArgs): void {
    const cap = this.ring.length;
    if (this.count === cap) {
      const oldest = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % cap;
      this.count--;
      this.dropped++;
      this.onDrop(oldest.hook, 1);
    }
    this.ring[(this.head + this.count) % cap] = args;
    this.count++;
    if (!this.running && !this.paused) void this.pump();
  }

  private take(): QueuedHookArgs | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    return item;
  }

  /** Puts calls that did not run back in front, oldest first; what no longer fits is dropped. */
  private requeue(items: QueuedHookArgs[]): void {
    const cap = this.ring.length;
    const fits = Math.min(items.length, cap - this.count);
    const lost = items.length - fits;
    // They are older than anything queued since, so the oldest of them are the ones to drop.
    for (let i = 0; i < lost; i++) {
      this.dropped++;
      this.onDrop(items[i]!.hook, 1);
    }
    for (let i = items.length - 1; i >= lost; i--) {
      this.head = (this.head - 1 + cap) % cap;
      this.ring[this.head] = items[i];
      this.count++;
    }
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (!this.paused) {
        // Yield to pending I/O first: under load, answering requests comes before delivering
        // events. While the queue overflows (it dropped entries since the last batch) or the
        // server thread is saturated, smaller batches are spaced out (see SHED_PAUSE_MS).
        let limit = this.maxBatch;
        if (this.dropped !== this.droppedAtLastCall || serverBusy()) {
          this.droppedAtLastCall = this.dropped;
          limit = Math.min(limit, SHED_BATCH);
          await pause(SHED_PAUSE_MS);
        } else await yieldToIO();
        if (this.paused) break;
        const n = Math.min(this.count, limit);
        if (n === 0) break;
        const items = new Array<QueuedHookArgs>(n);
        for (let i = 0; i < n; i++) items[i] = this.take()!;
        let ran = n;
        try {
          ran = await this.call(items);
        } catch (err) {
          this.onError(err);
        }
        // At least one call is used up per batch, so a plugin that keeps failing cannot stall the queue.
        if (ran < n) this.requeue(items.slice(Math.max(1, ran)));
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
    for (let item = this.take(); item; item = this.take()) {
      this.dropped++;
      this.onDrop(item.hook, 1);
      n++;
    }
    this.wakeIdle();
    return n;
  }

  /** Forgets everything queued (the plugin went away); returns how many were discarded. */
  discard(): number {
    const n = this.count;
    while (this.take()) {
      /* empty */
    }
    this.wakeIdle();
    return n;
  }
}
