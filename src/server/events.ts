/**
 * Per-plugin queues for hooks that run off the request path (on_request_complete,
 * on_cache_write, on_cache_invalidate). Each plugin has its own queue and pump, so a slow or
 * looping plugin only delays its own events. A full queue drops its oldest entry and reports
 * the drop (stats count it per hook).
 */
import type { HookName } from '../config/types.js';
import type { CallResult, HookArgs } from '../runtime/types.js';

export type QueuedHookArgs = Extract<HookArgs, { hook: 'on_request_complete' | 'on_cache_write' | 'on_cache_invalidate' }>;

export type HookCaller = (args: QueuedHookArgs) => Promise<CallResult>;

const yieldToIO = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Pause between calls while a queue is overflowing (see pump). */
const SHED_PAUSE_MS = 1;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (!this.paused) {
        // Yield to pending I/O first: under load, answering requests comes before delivering
        // events. While the queue overflows (it dropped entries since the last call), deliveries
        // are spaced out further: at that point most events are shed anyway, and every call
        // costs the server thread wake-ups it needs for responses.
        if (this.dropped !== this.droppedAtLastCall) {
          this.droppedAtLastCall = this.dropped;
          await pause(SHED_PAUSE_MS);
        } else await yieldToIO();
        if (this.paused) break;
        const item = this.take();
        if (!item) break;
        try {
          await this.call(item);
        } catch (err) {
          this.onError(err);
        }
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
