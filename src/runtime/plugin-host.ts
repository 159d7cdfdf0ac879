/**
 * The main-thread side of one plugin: owns its worker, serializes calls, enforces the wall-clock
 * backstop (`limits.timeout_ms`) and replaces the worker after a timeout or crash. The compiled
 * module is kept, so a replacement costs an instantiation, not a re-instrumentation.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { HookName, PluginConfig } from '../config/types.js';
import { logPerCause, pluginLevel, pluginLogger, type Logger } from '../log.js';
import type { AbiSummary } from './abi-table.js';
import { BatchProgress, MAX_BATCH, sharedNow } from './batch-progress.js';
import { CHANNEL_BYTES, createCallChannel, HOST_POLL_MS, type MainChannel } from './call-channel.js';
import type { BatchMessage, CallMessage, CallReport, FromWorker, InitMessage, ReadyMessage, ToWorker } from './messages.js';
import { createBridge, type Bridge, type MainOp } from './sync-bridge.js';
import { tallyOf } from './tally.js';
import { pluginWorkerOptions } from './worker-options.js';
import { demangle } from './frames/demangle.js';
import { shownStack, type Symbolizer } from './frames/symbolize.js';
import { callArgs, eventLog, hookOf } from './event-log.js';
import type { CallResult, CallTally, HookArgs, HookChannel, LoadOptions, PluginHandle, PluginInfo, QueuedCall, QueuedRun } from './types.js';

const NO_NETWORK = JSON.stringify({ status: 0, error: 'network not available' });
/** Limit for spawning a worker and instantiating the module (before any guest code runs). */
const STARTUP_TIMEOUT_MS = 30_000;
/** How long close() waits for the worker to flush its services before terminating it. */
const CLOSE_GRACE_MS = 2000;

interface Live {
  worker: Worker;
  bridge: Bridge;
  progress: BatchProgress;
  /** The shared-memory path for hook calls; null when every call goes by message. */
  channel: MainChannel | null;
  /** Resolves the call in flight when the worker dies or times out. */
  onGone: ((report: CallReport) => void) | null;
  gone: boolean;
}

/** A chunk of a batch once it ended: how many of its calls were sent and ran, what they reported, and what stopped it. */
interface RanChunk {
  chunk: readonly QueuedCall[];
  budgets: number[];
  sent: number;
  /** How many calls ran to their end (not counting `stopped`). */
  count: number;
  /** Reports of the calls that did not end ok, by index (the others are in `slots`). */
  failed: ReadonlyMap<number, CallReport>;
  /** The batch progress slots of the `count` calls (BatchProgress.copySlots). */
  slots: Float64Array;
  /** A timeout or crash: the report of the call it ended (reports.length is its index). */
  stopped: CallReport | null;
  /** Whether `stopped` calls for a new worker (not when starting one just failed). */
  replace: boolean;
}

const NO_FAILURES: ReadonlyMap<number, CallReport> = new Map<number, CallReport>();
const NO_SLOTS = new Float64Array(0);

/** A report of call k of a chunk that ran. */
function reportAt(ran: RanChunk, k: number): CallReport {
  return ran.failed.get(k) ?? BatchProgress.reportFrom(ran.slots, k);
}

/** Hook arguments as plain data (queued arguments may compute a field lazily, which a structured clone would not see). */
function plainArgs(a: HookArgs): HookArgs {
  switch (a.hook) {
    case 'on_request_complete':
      return { hook: a.hook, eventJson: a.eventJson };
    case 'on_cache_write':
      return { hook: a.hook, key: a.key, tagsJson: a.tagsJson };
    case 'on_cache_invalidate':
      return { hook: a.hook, pattern: a.pattern, count: a.count };
    case 'on_server_start':
      return { hook: a.hook, configJson: a.configJson };
    default:
      return { hook: a.hook };
  }
}

/** `shared` unless the options or BEXT_HOOK_CHANNEL say `message`. */
function channelKind(opts: LoadOptions): HookChannel {
  return opts.hookChannel ?? (process.env.BEXT_HOOK_CHANNEL === 'message' ? 'message' : 'shared');
}

/** Posts a message to the worker and wakes it if it sleeps between shared-channel calls. */
function postTo(live: Live, msg: ToWorker): void {
  live.worker.postMessage(msg);
  live.channel?.mail();
}

/**
 * A worker started before its module is ready: booting a worker thread (Node's bootstrap, then
 * the entry's imports) is the longest step of loading a plugin, and it needs nothing from the
 * module, so loadPlugin starts it first and reads, instruments and compiles meanwhile.
 */
export interface BootingWorker {
  /** Hands the worker over (once); `early` says why it already died, if it did. */
  take(): { worker: Worker; early: string | null };
  /** Ends a worker that will not be taken (the module failed to load). */
  cancel(): void;
}

export function bootWorker(entry: URL): BootingWorker {
  const worker = new Worker(entry, pluginWorkerOptions());
  let early: string | null = null;
  // Without listeners a failing worker's 'error' would be thrown on the main thread.
  const onError = (err: Error): void => void (early ??= `worker failed: ${err.message}`);
  const onExit = (code: number): void => void (early ??= `worker exited with code ${code} during start`);
  worker.on('error', onError);
  worker.on('exit', onExit);
  return {
    take() {
      worker.off('error', onError);
      worker.off('exit', onExit);
      return { worker, early };
    },
    cancel() {
      worker.off('error', onError);
      worker.off('exit', onExit);
      void worker.terminate();
    },
  };
}

export interface WorkerStats {
  heapUsedBytes: number;
  wasmMemoryBytes: number;
}

export class PluginHost implements PluginHandle {
  readonly info: PluginInfo;
  private live: Live | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closed = false;
  /** Set by cancelBatch() at shutdown: no further batch chunk starts. */
  private batchCancelled = false;
  private startedWith: string | null = null;
  private replacing: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly pending = new Map<number, (msg: FromWorker) => void>();
  /** Calls still to profile (LoadOptions.profile). */
  private profilesLeft: number;

  constructor(
    private readonly opts: LoadOptions,
    private readonly module: WebAssembly.Module,
    private readonly summary: AbiSummary,
    private readonly functionNames: Record<number, string> = {},
    /** Maps trap frames to the user's module (names, offsets, source lines); absent in tests that drive a worker alone. */
    private readonly symbolize?: Symbolizer,
    /** Names for profiles (name section, else exports); set when `module` is a profiling build. */
    private readonly profileNames?: Record<number, string>,
  ) {
    const p = opts.plugin;
    this.profilesLeft = opts.profile ? (opts.profile.calls ?? Infinity) : 0;
    this.log = pluginLogger(p.name);
    this.info = {
      name: p.name,
      path: p.path,
      state: 'loaded',
      priority: p.priority ?? 1000,
      hooks: Object.keys(summary.hooks) as HookName[],
      budgets: { ...p.fuel },
    };
  }

  private get plugin(): PluginConfig {
    return this.opts.plugin;
  }

  /** Starts a worker (or takes one already booting), runs `_initialize`; throws with the reason on failure. */
  async start(booting?: BootingWorker): Promise<ReadyMessage> {
    const ready = await this.spawn(booting);
    if (this.plugin.priority === null && ready.guestPriority !== null) this.info.priority = ready.guestPriority;
    return ready;
  }

  private spawn(booting?: BootingWorker): Promise<ReadyMessage> {
    const bridge = createBridge();
    const onMainCall = this.opts.onMainCall;
    bridge.serve((op: MainOp, payload: string) => (onMainCall ? onMainCall(this.plugin.name, op, payload) : Promise.resolve(NO_NETWORK)));
    const { worker, early } = booting ? booting.take() : { worker: new Worker(this.opts.workerEntry, pluginWorkerOptions()), early: null };
    const poll = this.opts.hookPoll !== false;
    const channel = channelKind(this.opts) === 'shared' ? createCallChannel(CHANNEL_BYTES, poll ? HOST_POLL_MS : 0) : null;
    const live: Live = { worker, bridge, progress: BatchProgress.create(), channel, onGone: null, gone: false };
    this.live = live;

    return new Promise<ReadyMessage>((resolve, reject) => {
      let settled = false;
      const timeoutMs = this.plugin.limits.timeout_ms;
      const fail = (message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.retire(live);
        reject(new Error(message));
      };
      // Starting a worker is host work (and slow on a loaded machine): a generous limit until the
      // module is instantiated, then timeout_ms for the guest's _initialize.
      let timer = setTimeout(() => fail(`worker did not start within ${STARTUP_TIMEOUT_MS.toLocaleString('en-US')} ms`), STARTUP_TIMEOUT_MS);

      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              worker.unref();
              resolve(msg);
            }
            return;
          case 'initializing':
            clearTimeout(timer);
            timer = setTimeout(() => fail(`_initialize exceeded timeout_ms of ${timeoutMs.toLocaleString('en-US')} ms`), timeoutMs);
            return;
          case 'init_failed':
            fail(msg.message);
            return;
          case 'logs':
            for (const e of msg.entries) {
              if (this.opts.onLog) this.opts.onLog({ plugin: this.plugin.name, level: e.level, source: e.source, msg: e.msg });
              else this.log[e.level]({ source: e.source, ...(e.extra ?? {}) }, e.msg);
            }
            return;
          case 'metrics': {
            const onMetric = this.opts.onMetric;
            if (onMetric) for (const m of msg.samples) onMetric({ plugin: this.plugin.name, name: m.name, value: m.value, tags: m.tags });
            return;
          }
          case 'result':
          case 'batch_result':
          case 'stats': {
            const waiter = this.pending.get(msg.id);
            if (waiter) {
              this.pending.delete(msg.id);
              waiter(msg);
            }
            return;
          }
        }
      });
      worker.on('error', (err) => {
        fail(`worker failed: ${err.message}`);
        this.died(live, `worker crashed: ${err.message}`);
      });
      worker.on('exit', (code) => {
        fail(`worker exited with code ${code} during start`);
        this.died(live, `worker exited with code ${code}`);
      });

      const init: InitMessage = {
        type: 'init',
        plugin: this.plugin.name,
        module: this.module,
        summary: this.summary,
        functionNames: this.functionNames,
        configJson: JSON.stringify(this.plugin.config),
        permissions: this.plugin.permissions,
        limits: this.plugin.limits,
        stateDir: this.opts.stateDir,
        initBudget: this.plugin.fuel.on_server_start,
        logLevel: this.opts.logLevel ?? pluginLevel(),
        bridge: bridge.worker,
        progress: live.progress.buffer,
        events: eventLog().buffer,
        ...(channel ? { calls: channel.buffer, pollCalls: poll } : {}),
        ...(this.opts.profile ? { profile: true } : {}),
      };
      worker.postMessage(init, [bridge.worker.port]);
      if (early !== null) fail(early);
    });
  }

  /** The worker went away (crash, exit); the call in flight ends as `crashed`. */
  private died(live: Live, reason: string): void {
    if (live.gone) return;
    live.gone = true;
    live.bridge.close();
    live.channel?.release();
    if (this.live === live) this.live = null;
    const gone = live.onGone;
    live.onGone = null;
    gone?.({ outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: reason });
  }

  /** Ends a worker on purpose (timeout, close, failed start). */
  private retire(live: Live): void {
    if (live.gone) return;
    live.gone = true;
    live.onGone = null;
    if (this.live === live) this.live = null;
    live.bridge.close();
    live.channel?.release();
    void live.worker.terminate();
  }

  call(args: HookArgs): Promise<CallResult> {
    const run = this.queue.then(() => this.callNow(args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private result(hook: HookName, budget: number, r: CallReport): CallResult {
    const out: CallResult = { plugin: this.plugin.name, hook, outcome: r.outcome, fuelUsed: r.fuelUsed, budget, wallUs: r.wallUs };
    if (r.message !== undefined) out.message = r.message;
    if (r.trapKind !== undefined) out.trapKind = r.trapKind;
    if (r.stack !== undefined && r.stack.length > 0) out.stack = r.stack;
    if (r.panic !== undefined) out.panic = r.panic;
    if (this.symbolize && r.frames && r.frames.length > 0) this.mapFrames(out, r);
    if (r.skipped) out.skipped = true;
    if (r.profile) {
      const names: Record<number, string> = {};
      for (const f of r.profile.func) if (f >= 0) names[f] = demangle(this.profileNames?.[f] ?? this.functionNames[f] ?? `func[${f}]`);
      out.profile = { ...r.profile, names };
    }
    return out;
  }

  /** The worker's frames in the user's terms; a mapping failure keeps the worker's own lines. */
  private mapFrames(out: CallResult, r: CallReport): void {
    try {
      const verbose = pluginLevel() === 'trace';
      const frames = this.symbolize!(r.frames!, verbose);
      const lines = shownStack(frames, verbose).map((row) => row.text);
      if (r.hostImport) lines.unshift(`${r.hostImport} (host import)`);
      out.stack = lines;
      out.frames = frames;
    } catch (err) {
      this.log.debug(`mapping trap frames failed: ${(err as Error).message}`);
    }
  }

  private async callNow(args: HookArgs, replaying = false): Promise<CallResult> {
    const hook = args.hook;
    const budget = this.plugin.fuel[hook];
    if (this.closed) return this.finish(this.result(hook, budget, { outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: 'plugin is closed' }));
    if (!(hook in this.summary.hooks)) return this.finish(this.result(hook, budget, { outcome: 'ok', fuelUsed: 0, wallUs: 0, skipped: true }));
    if (this.replacing && !replaying) await this.replacing;
    if (!this.live) {
      try {
        await this.replace('the previous worker is gone');
      } catch (err) {
        return this.finish(this.result(hook, budget, { outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: `plugin could not be restarted: ${(err as Error).message}` }));
      }
    }
    const live = this.live!;
    if (hook === 'on_server_start' && !replaying) this.startedWith = args.configJson;

    const profile = this.wantsProfile(hook);
    if (profile) this.profilesLeft--;
    const id = this.nextId++;
    const started = performance.now();
    const report = await new Promise<CallReport>((resolve) => {
      const timeoutMs = this.plugin.limits.timeout_ms;
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.pending.delete(id);
        this.retire(live);
        resolve({
          outcome: 'timeout',
          fuelUsed: 0,
          wallUs: (performance.now() - started) * 1000,
          message: `${hook} exceeded timeout_ms of ${timeoutMs.toLocaleString('en-US')} ms wall time; the worker was terminated and will be replaced`,
        });
      }, timeoutMs);
      const done = (r: CallReport): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(id);
        live.onGone = null;
        live.worker.unref();
        resolve(r);
      };
      live.onGone = done;
      // The result comes inline through the channel, or as a message (by message, or when the
      // channel's worker said it must follow the logs it posted): whichever the worker used.
      this.pending.set(id, (msg) => {
        if (msg.type === 'result') done(msg.report);
      });
      // A call in flight must keep the process alive (the CLI awaits nothing else).
      live.worker.ref();
      // A profile travels in a result message; so do arguments too big for the channel.
      if (!profile && live.channel?.post(id, args, budget)) {
        void live.channel.result(id).then((r) => {
          if (r) done(r);
        });
        return;
      }
      const call: CallMessage = { type: 'call', id, args: plainArgs(args), budget, ...(profile ? { profile } : {}) };
      postTo(live, call);
    });
    const result = this.finish(this.result(hook, budget, report));
    if (result.profile) {
      try {
        this.opts.profile?.onProfile?.(result);
      } catch (err) {
        this.log.error(`onProfile handler threw: ${(err as Error).message}`);
      }
    }
    this.replaceAfter(report, hook);
    return result;
  }

  /** Whether the next call of `hook` is one to profile. */
  private wantsProfile(hook: HookName): boolean {
    const want = this.opts.profile;
    return this.profilesLeft > 0 && want !== undefined && (want.hook === undefined || want.hook === hook);
  }

  /** After a timeout or crash, replaces the worker at once; the next call waits for it (see callNow). */
  private replaceAfter(report: CallReport, hook: HookName): void {
    if (report.outcome !== 'timeout' && report.outcome !== 'crashed') return;
    const why = report.outcome === 'timeout' ? 'timeout' : 'crash';
    this.replacing = this.replace(why)
      .catch((err: unknown) => {
        this.info.state = 'failed';
        this.info.error = `restart failed: ${(err as Error).message}`;
        this.log.error({ hook }, `restart after ${why} failed: ${(err as Error).message}`);
      })
      .finally(() => {
        this.replacing = null;
      });
  }

  /**
   * Shutdown stopped waiting: the batch running finishes the call it is in, and no later chunk of
   * it or batch after it starts. Sticky, because the shared flag is cleared for each new chunk.
   */
  cancelBatch(): void {
    this.batchCancelled = true;
    this.live?.progress.cancel();
  }

  callBatch(args: readonly HookArgs[]): Promise<CallResult[]> {
    const run = this.queue.then(() => this.callBatchNow(args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  callQueued(args: readonly QueuedCall[]): Promise<QueuedRun> {
    const run = this.queue.then(() => this.callQueuedNow(args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Whether list[i] can go in a batch (else call() answers it: closed, not exported, to profile). */
  private batchable(a: QueuedCall): boolean {
    const hook = hookOf(a);
    return !this.closed && hook in this.summary.hooks && !this.wantsProfile(hook);
  }

  private async callBatchNow(list: readonly HookArgs[]): Promise<CallResult[]> {
    const out: CallResult[] = [];
    await this.runList(
      list,
      (ran) => {
        for (const r of this.chunkResults(ran)) out.push(r);
      },
      (r) => void out.push(r),
    );
    return out;
  }

  /**
   * callBatch for events nobody awaits: a chunk whose calls all ended ok becomes one tally per run
   * of one hook (to onTally, no CallResult per call); any other chunk is reported as callBatch does.
   */
  private async callQueuedNow(list: readonly QueuedCall[]): Promise<QueuedRun> {
    const out: QueuedRun = { ran: 0, tallies: [], results: [] };
    const onTally = this.opts.onTally;
    await this.runList(
      list,
      (ran, first) => {
        if (onTally !== undefined && ran.stopped === null && ran.failed.size === 0) {
          out.ran += ran.count;
          this.tallies(ran, out.tallies, onTally);
          return;
        }
        const results = this.chunkResults(ran);
        out.ran += results.length;
        for (let k = 0; k < results.length; k++) out.results.push({ index: first + k, result: results[k]! });
      },
      (result, index) => {
        out.ran++;
        out.results.push({ index, result });
      },
    );
    return out;
  }

  /** The calls of an all-ok chunk as one tally per run of one hook, each handed to onTally. */
  private tallies(ran: RanChunk, out: CallTally[], onTally: (t: CallTally) => void): void {
    const { chunk, budgets, slots, count } = ran;
    let k = 0;
    while (k < count) {
      const hook = hookOf(chunk[k]!);
      let end = k + 1;
      while (end < count && hookOf(chunk[end]!) === hook) end++;
      const tally = tallyOf(this.plugin.name, hook, budgets[k]!, slots, k, end);
      if (tally !== null) {
        try {
          onTally(tally);
        } catch (err) {
          this.log.error(`onTally handler threw: ${(err as Error).message}`);
        }
        out.push(tally);
      }
      k = end;
    }
  }

  /**
   * Runs the list in chunks, handing each chunk that ran to `take` (with the index of its first
   * call) and each call made alone to `single`. While the worker runs one chunk, this thread
   * handles the one before: the next chunk is sent as soon as the previous one is done, before
   * it is handed over, unless it ended in a timeout or crash.
   */
  private async runList(
    list: readonly QueuedCall[],
    take: (ran: RanChunk, first: number) => void,
    single: (result: CallResult, index: number) => void,
  ): Promise<void> {
    let i = 0;
    let next: Promise<RanChunk> | null = null;
    while (i < list.length) {
      if (!next) {
        if (this.batchCancelled) return;
        // What call() answers without the worker (closed plugin, hook not exported) is answered
        // the same way; so is a call to profile (its profile travels in a result message).
        if (!this.batchable(list[i]!)) {
          single(await this.callNow(callArgs(list[i]!)), i);
          i++;
          continue;
        }
        next = this.runChunk(this.chunkAt(list, i));
      }
      const ran = await next;
      next = null;
      const first = i;
      i += ran.sent;
      // A timeout or crash ends the batch: the calls after it did not run (the caller decides their fate).
      const stopped = ran.stopped !== null || ran.count < ran.sent;
      if (!stopped && i < list.length && !this.batchCancelled && this.batchable(list[i]!)) next = this.runChunk(this.chunkAt(list, i));
      take(ran, first);
      if (stopped) return;
    }
  }

  /** The calls from list[i] that go in one chunk (at most MAX_BATCH, all batchable). */
  private chunkAt(list: readonly QueuedCall[], i: number): QueuedCall[] {
    let end = i + 1;
    while (end < list.length && end - i < MAX_BATCH && this.batchable(list[end]!)) end++;
    return list.slice(i, end);
  }

  /**
   * Sends the calls of `chunk`, from the first, that fit in one batch (all of them by message; as
   * many as the channel holds through it); resolves, once the batch ended, with how many it sent
   * and the reports of those that ran (read before anything else is sent to the worker).
   */
  private async runChunk(chunk: readonly QueuedCall[]): Promise<RanChunk> {
    const first = hookOf(chunk[0]!);
    if (this.replacing) await this.replacing;
    if (!this.live) {
      try {
        await this.replace('the previous worker is gone');
      } catch (err) {
        const budget = this.plugin.fuel[first];
        const report: CallReport = { outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: `plugin could not be restarted: ${(err as Error).message}` };
        return { chunk, budgets: [budget], sent: 1, count: 0, failed: NO_FAILURES, slots: NO_SLOTS, stopped: report, replace: false };
      }
    }
    const live = this.live!;
    const fuel = this.plugin.fuel;
    const budgets = chunk.map((a) => fuel[hookOf(a)]);
    let sent = chunk.length;

    const id = this.nextId++;
    live.progress.reset();
    // A cancel that came while this chunk waited must survive the reset.
    if (this.batchCancelled) live.progress.cancel();
    const sentAt = sharedNow();
    const timeoutMs = this.plugin.limits.timeout_ms;
    return new Promise<RanChunk>((resolve) => {
      // The limit applies to each call from its own start, so the timer re-arms for the call
      // running now instead of firing once for the whole batch.
      const check = (): void => {
        const { index, since } = live.progress.current();
        const elapsed = sharedNow() - (index < 0 ? sentAt : since);
        if (elapsed < timeoutMs) {
          timer = setTimeout(check, Math.max(1, Math.ceil(timeoutMs - elapsed)));
          return;
        }
        this.pending.delete(id);
        this.retire(live);
        const at = Math.max(0, index);
        done(at, NO_FAILURES, {
          outcome: 'timeout',
          fuelUsed: 0,
          wallUs: elapsed * 1000,
          message: `${hookOf(chunk[at]!)} exceeded timeout_ms of ${timeoutMs.toLocaleString('en-US')} ms wall time; the worker was terminated and will be replaced`,
        });
      };
      let timer = setTimeout(check, timeoutMs);
      const done = (count: number, failed: ReadonlyMap<number, CallReport>, stopped: CallReport | null): void => {
        clearTimeout(timer);
        live.onGone = null;
        live.worker.unref();
        // Finished calls: failures came with their report; the others are copied from shared
        // memory, now, before the next chunk reuses it. After a timeout or crash, failures before
        // it keep their outcome, fuel and time but lose the message.
        resolve({ chunk, budgets, sent, count, failed, slots: live.progress.copySlots(count), stopped, replace: true });
      };
      live.onGone = (report) => done(Math.max(0, live.progress.current().index), NO_FAILURES, report);
      this.pending.set(id, (msg) => {
        if (msg.type === 'batch_result') done(msg.count, new Map(msg.failed.map((f) => [f.index, f.report])), null);
      });
      live.worker.ref();
      // Through the channel when at least the first call fits: no structured clone, and a worker
      // sleeping between calls wakes straight from its wait. Its result is inline when every call
      // ended ok. The calls that did not fit go in the next batch.
      const through = live.channel?.postBatch(id, chunk, budgets) ?? 0;
      if (through > 0) {
        sent = through;
        void live.channel!.batchResult(id).then((count) => {
          if (count === null) return;
          this.pending.delete(id);
          done(count, NO_FAILURES, null);
        });
      } else {
        const batch: BatchMessage = { type: 'batch', id, args: chunk.map((a) => plainArgs(callArgs(a))), budgets };
        postTo(live, batch);
      }
      for (let k = 0; k < sent; k++) {
        const a = chunk[k]!;
        if (typeof a !== 'number' && a.hook === 'on_server_start') this.startedWith = a.configJson;
      }
    });
  }

  /** The results of a chunk that ran, each through finish() (onCall), in order. */
  private chunkResults(ran: RanChunk): CallResult[] {
    const { chunk, budgets, count, stopped, replace } = ran;
    const results: CallResult[] = [];
    for (let k = 0; k < count; k++) results.push(this.finish(this.result(hookOf(chunk[k]!), budgets[k]!, reportAt(ran, k))));
    if (stopped) {
      const at = count;
      results.push(this.finish(this.result(hookOf(chunk[at]!), budgets[at]!, stopped)));
      if (replace) this.replaceAfter(stopped, hookOf(chunk[at]!));
    }
    return results;
  }

  private finish(result: CallResult): CallResult {
    if (!result.skipped && result.outcome !== 'ok' && this.opts.logOutcomes !== false) {
      const what = result.outcome === 'trap' ? `trapped (${result.trapKind})` : result.outcome.replace(/_/g, ' ');
      // The panic says what went wrong; the trap that follows it (unreachable) does not.
      const why = result.panic !== undefined ? `panicked: ${result.panic}` : `${what}: ${result.message ?? ''}`;
      const where = result.stack?.length ? ` (in ${result.stack.find((l) => !l.startsWith('…')) ?? result.stack[0]})` : '';
      // A plugin failing the same way on every call is one line per cause, with a count.
      const cause = `${this.plugin.name}\u0000${result.hook}\u0000${result.outcome}\u0000${result.message ?? ''}`;
      logPerCause(`outcome\u0000${cause}`, 'warn', { hook: result.hook, outcome: result.outcome }, `${result.hook} ${why}${where}`, this.log);
      if (result.stack?.length) logPerCause(`stack\u0000${cause}`, 'debug', { hook: result.hook, stack: result.stack }, `${result.hook} guest stack`, this.log);
    }
    try {
      this.opts.onCall?.(result);
    } catch (err) {
      this.log.error(`onCall handler threw: ${(err as Error).message}`);
    }
    return result;
  }

  /** New worker, `_initialize`, and on_server_start again if it had run. */
  private async replace(why: string): Promise<void> {
    if (this.closed) return;
    this.log.info(`restarting plugin worker (${why})`);
    await this.spawn();
    this.info.state = 'loaded';
    delete this.info.error;
    if (this.startedWith !== null && 'on_server_start' in this.summary.hooks) {
      await this.callNow({ hook: 'on_server_start', configJson: this.startedWith }, true);
    }
  }

  /** Heap and linear-memory size inside the worker (for leak checks). */
  async workerStats(gc = true): Promise<WorkerStats> {
    await this.queue;
    if (this.replacing) await this.replacing;
    const live = this.live;
    if (!live) throw new Error('no worker running');
    const id = this.nextId++;
    return new Promise<WorkerStats>((resolve) => {
      this.pending.set(id, (msg) => {
        live.worker.unref();
        if (msg.type === 'stats') resolve({ heapUsedBytes: msg.heapUsedBytes, wasmMemoryBytes: msg.wasmMemoryBytes });
      });
      live.worker.ref();
      postTo(live, { type: 'stats', id, gc });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.replacing) await this.replacing;
    const live = this.live;
    if (!live) return;
    this.live = null;
    live.gone = true;
    live.bridge.close();
    const exited = new Promise<void>((resolve) => live.worker.once('exit', () => resolve()));
    postTo(live, { type: 'close' });
    live.channel?.release();
    const timer = setTimeout(() => void live.worker.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
