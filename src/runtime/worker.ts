/**
 * The inside of a plugin worker: one guest instance, its WASI and `"bext"` imports, and the hook
 * calls the main thread sends, one at a time. Guest failures become call reports; nothing a
 * guest does throws out of here. The `"bext"` imports come from the capabilities the entry
 * passes in (src/plugins/worker-entry.ts gives the host registry; tests may give their own).
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { isMainThread, type MessagePort } from 'node:worker_threads';
// The fuel contract, not fuel/index.js: that one brings the whole rewriter, which a worker never
// runs (the main thread instruments), and loading it cost every worker's start.
import { FUEL_GLOBAL, OUT_OF_FUEL_NAME } from '../fuel/contract.js';
import { attachProfileHooks } from '../fuel/profile.js';
import { fuelUsed, initialFuelFor, isOutOfFuel } from '../fuel/protocol.js';
import type { HookName } from '../config/types.js';
import { HOST_MODULE, WASI_MODULE, type HookReturn } from './abi-table.js';
import type { Capability, GuestLevel } from './capability.js';
import { ABI_ALLOWANCE, encoder, Guest, takeFault, unpack, utf8Lenient } from './guest.js';
import { buildImportObject } from './import-object.js';
import { BatchProgress } from './batch-progress.js';
import { createLogBatcher } from './log-batch.js';
import type { BatchMessage, BatchResultMessage, CallMessage, CallReport, FromWorker, InitMessage, LogEntry, MetricSampleData, ToWorker } from './messages.js';
import { connectBridge } from './sync-bridge.js';
import { HOT_WAIT_MS, serveCalls, WORKER_POLL_MS, type BatchOutcome } from './call-channel.js';
import { EventLogReader } from './event-log.js';
import type { HookArgs } from './types.js';
import { classifyTrap, type TrapInfo } from './traps.js';
import { panicMessage } from './frames/panic.js';
import { createWasi, type WasiHost } from './wasi-io.js';
import { ProfileCollector } from './profiler.js';

/** Longest guest error message kept; the rest is cut with a note. */
const MAX_MESSAGE = 4096;
/** Stderr lines of the running call kept to find a panic message in (the last ones). */
const STDERR_KEPT = 32;

/** What a report carries about where a trap happened. */
function trapPlace(t: TrapInfo, panic: string | undefined): Pick<CallReport, 'stack' | 'frames' | 'hostImport' | 'panic'> {
  return {
    stack: t.stack,
    frames: t.frames,
    ...(t.hostImport ? { hostImport: t.hostImport } : {}),
    ...(panic ? { panic } : {}),
  };
}

interface State {
  init: InitMessage;
  guest: Guest;
  wasi: WasiHost;
  busy: boolean;
  /** Set when the module is a profiling build. */
  profiler: Profiler | null;
  /** The guest's optional `bext_flush` export. */
  flush: (() => unknown) | null;
}

interface Profiler {
  collector: ProfileCollector;
  /** Turns the build's entry/exit reports on and off. */
  reports: (on: boolean) => void;
}

/** A hook call as callHook takes it: argument strings already UTF-8, then trailing i32s. */
interface HookCall {
  hook: HookName;
  budget: number;
  strings: Uint8Array[];
  tail: number[];
  profile?: boolean;
}

const NO_TAIL: number[] = [];
const NO_PARAMS: number[] = [];

type GuestFn = (...a: number[]) => unknown;

/** Calls a guest export with its i32 parameters (hooks take at most four), without a spread. */
function invoke(f: GuestFn, p: readonly number[]): unknown {
  switch (p.length) {
    case 0:
      return f();
    case 2:
      return f(p[0]!, p[1]!);
    case 3:
      return f(p[0]!, p[1]!, p[2]!);
    case 4:
      return f(p[0]!, p[1]!, p[2]!, p[3]!);
    default:
      return f(...p);
  }
}

/**
 * The parameter array of a hook call, by length, reused: calls never overlap (State.busy), every
 * element is written before the call, and nothing keeps the array after it.
 */
const paramArrays: number[][] = [];
function paramsOf(n: number): number[] {
  return (paramArrays[n] ??= new Array<number>(n).fill(0));
}

/** initialFuelFor of the budget seen last: a batch asks for the same few budgets again and again. */
let lastBudget = -1;
let lastInitial = 0;
function initialFuel(budget: number): number {
  if (budget !== lastBudget) {
    lastInitial = Number(initialFuelFor(budget));
    lastBudget = budget;
  }
  return lastInitial;
}
/** Small arguments are encoded here (callHook copies them into the guest at once), not into a new array each. */
const SCRATCH_MAX = 64 * 1024;
let scratch = new Uint8Array(4096);
let scratchAt = 0;

/** UTF-8 bytes of `text`, valid until the next encodedCall. */
function utf8(text: string): Uint8Array {
  const worst = text.length * 3;
  if (worst > SCRATCH_MAX) return encoder.encode(text);
  if (scratchAt + worst > scratch.length) {
    // A new array: views handed out earlier in this call (the key before the tags) stay intact.
    scratch = new Uint8Array(Math.min(4 * SCRATCH_MAX, Math.max(scratch.length * 2, worst * 2)));
    scratchAt = 0;
  }
  const n = encoder.encodeInto(text, scratch.subarray(scratchAt)).written;
  const out = scratch.subarray(scratchAt, scratchAt + n);
  scratchAt += n;
  return out;
}

/** Batches run this per call: one object of one shape, no spreads. */
function encodedCall(msg: Pick<CallMessage, 'args' | 'budget' | 'profile'>): HookCall {
  const args: HookArgs = msg.args;
  let strings: Uint8Array[];
  let tail = NO_TAIL;
  scratchAt = 0;
  switch (args.hook) {
    case 'on_server_start':
      strings = [utf8(args.configJson)];
      break;
    case 'on_request_complete':
      strings = [utf8(args.eventJson)];
      break;
    case 'on_cache_write':
      strings = [utf8(args.key), utf8(args.tagsJson)];
      break;
    case 'on_cache_invalidate':
      strings = [utf8(args.pattern)];
      tail = [args.count | 0];
      break;
    default:
      strings = [];
  }
  return { hook: args.hook, budget: msg.budget, strings, tail, profile: msg.profile === true };
}

/** Per-instance values capabilities share (one SQLite connection), closed in reverse order. */
function createResources(onCloseError: (key: string, err: unknown) => void) {
  const open = new Map<string, { value: unknown; close: (value: unknown) => void }>();
  return {
    get<T>(key: string, create: () => T, close: (value: T) => void): T {
      const hit = open.get(key);
      if (hit) return hit.value as T;
      const value = create();
      open.set(key, { value, close: close as (value: unknown) => void });
      return value;
    },
    closeAll(): void {
      for (const [key, r] of [...open].reverse()) {
        try {
          r.close(r.value);
        } catch (err) {
          onCloseError(key, err);
        }
      }
      open.clear();
    },
  };
}

/** Samples one message may carry; more in one call are dropped and counted. */
const MAX_METRIC_BATCH = 10_000;

/** `emit_metric` samples, posted together at the end of a call (or on the next tick outside one). */
function createMetricBatch(send: (samples: MetricSampleData[]) => void, onDropped: (count: number) => void) {
  let samples: MetricSampleData[] = [];
  let dropped = 0;
  let scheduled = false;
  const flush = (): void => {
    if (dropped > 0) {
      onDropped(dropped);
      dropped = 0;
    }
    if (samples.length === 0) return;
    const out = samples;
    samples = [];
    send(out);
  };
  return {
    add(sample: MetricSampleData): void {
      if (samples.length >= MAX_METRIC_BATCH) {
        dropped++;
        return;
      }
      samples.push(sample);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          flush();
        });
      }
    },
    flush,
  };
}

export function runWorker(port: MessagePort, capabilities: readonly Capability[]): void {
  let state: State | null = null;
  let progress: BatchProgress | null = null;
  const resources = createResources((key, err) => log('warn', `closing ${key} failed: ${(err as Error)?.message ?? String(err)}`, 'host'));
  let functionNames: Record<number, string> = {};
  const names = (): Record<number, string> => functionNames;
  let callChannel: { stop(): void } | null = null;
  /** Messages posted so far: a call's result may skip the port only when nothing went out before it. */
  let postedCount = 0;
  const send = (msg: FromWorker): void => {
    postedCount++;
    port.postMessage(msg);
  };
  const logs = createLogBatcher({ post: (entries) => send({ type: 'logs', entries }) });
  const metrics = createMetricBatch(
    (samples) => send({ type: 'metrics', samples }),
    (dropped) => log('warn', `bext.emit_metric: ${dropped.toLocaleString('en-US')} samples dropped (more than ${MAX_METRIC_BATCH.toLocaleString('en-US')} in one call)`, 'host'),
  );
  // What a call said and measured goes out first, so the main thread has it before the result.
  const post = (msg: FromWorker): void => {
    metrics.flush();
    logs.flush();
    send(msg);
  };
  // The running call's stderr lines, for the panic message of a trap (whatever the log level).
  const callStderr: string[] = [];
  const noteOutput = (stream: 'stdout' | 'stderr', line: string): void => {
    if (stream !== 'stderr') return;
    if (callStderr.length === STDERR_KEPT) callStderr.shift();
    callStderr.push(line);
  };
  const log = (level: GuestLevel, msg: string, source: LogEntry['source'], extra?: Record<string, unknown>): void => logs.add(level, msg, source, extra);

  Error.stackTraceLimit = 64;

  /** performance.now() when the last metered call ended. */
  let callEnd = 0;

  /** Runs `f(...params)` under a fuel budget; returns a report (never throws). With `profiler`, its profile too. */
  const metered = (
    guest: Guest,
    budget: number,
    hook: string,
    f: GuestFn,
    params: readonly number[],
    ret: HookReturn,
    profiler?: Profiler | null,
    start?: number,
  ): CallReport => {
    const report = meteredCall(guest, budget, hook, f, params, ret, profiler, start);
    if (profiler) report.profile = profiler.collector.finish(guest.getFuel());
    return report;
  };

  const meteredCall = (
    guest: Guest,
    budget: number,
    hook: string,
    f: GuestFn,
    params: readonly number[],
    ret: HookReturn,
    profiler?: Profiler | null,
    start = performance.now(),
  ): CallReport => {
    const initial = initialFuel(budget);
    // Setting an array's length is a runtime call even when it is already 0.
    if (callStderr.length > 0) callStderr.length = 0;
    guest.setFuel(initial);
    let value: unknown;
    let thrown: unknown = null;
    let failed = false;
    if (profiler) {
      profiler.collector.reset();
      profiler.reports(true);
    }
    takeFault();
    try {
      value = invoke(f, params);
    } catch (err) {
      thrown = err;
      failed = true;
    } finally {
      profiler?.reports(false);
    }
    // A fault the host raised ends the call as that trap even if the guest caught it (GuestFault).
    const fault = takeFault();
    if (fault !== null && thrown !== fault) {
      thrown = fault;
      failed = true;
    }
    const remaining = guest.getFuel();
    callEnd = performance.now();
    const wallUs = (callEnd - start) * 1000;
    const used = fuelUsed(budget, remaining);
    if (failed) {
      if (isOutOfFuel(thrown, remaining)) {
        // Where the fuel ran out is worth showing; the instrumenter's own trap frame is not.
        const t = classifyTrap(thrown, names());
        return {
          outcome: 'out_of_fuel',
          fuelUsed: budget,
          wallUs,
          message: `all fuel consumed: ${hook} used its ${budget.toLocaleString('en-US')} budget`,
          stack: t.stack.filter((f) => !f.startsWith(OUT_OF_FUEL_NAME)),
          frames: t.frames.filter((f) => f.name !== OUT_OF_FUEL_NAME),
        };
      }
      const t = classifyTrap(thrown, names());
      return { outcome: 'trap', fuelUsed: Math.max(0, used), wallUs, message: t.message, trapKind: t.kind, ...trapPlace(t, panicMessage(callStderr)) };
    }
    const fuel = Math.max(0, used);
    if (ret === 'i32' && typeof value === 'number' && value !== 0) {
      return { outcome: 'error', fuelUsed: fuel, wallUs, message: `${hook} returned error code ${value}` };
    }
    if (ret === 'i64' && typeof value === 'bigint' && value !== 0n) {
      const { ptr, len } = unpack(value);
      if (ptr + len > guest.size) {
        return { outcome: 'error', fuelUsed: fuel, wallUs, message: `${hook} returned an error whose message range [${ptr}, ${ptr + len}) is outside memory of ${guest.size} bytes` };
      }
      let text = utf8Lenient(guest.view(ptr, Math.min(len, MAX_MESSAGE), hook, 'error message'));
      if (len > MAX_MESSAGE) text += ` … (${len - MAX_MESSAGE} more bytes)`;
      return { outcome: 'error', fuelUsed: fuel, wallUs, message: text === '' ? `${hook} returned an empty error message` : text };
    }
    return { outcome: 'ok', fuelUsed: fuel, wallUs };
  };

  /** Host-initiated guest calls outside a hook's budget (allocator, bext_name...). */
  const allowance = <T>(guest: Guest, f: () => T): T => {
    guest.setFuel(ABI_ALLOWANCE);
    return f();
  };

  /**
   * What a host-initiated guest call (allocator, bext_flush, bext_name...) threw: out of fuel when
   * the instrumenter's fuel check fired (it traps with `unreachable` inside bext_out_of_fuel, which
   * must never read as the guest's own trap), else the trap.
   */
  type AllowanceFailure = { outcome: 'out_of_fuel' | 'trap'; message: string; kind: string; stack: string[]; trap: TrapInfo };
  const allowanceFailure = (guest: Guest, err: unknown, what: string): AllowanceFailure => {
    const t = classifyTrap(err, names());
    if (isOutOfFuel(err, guest.getFuel())) {
      // As for a hook: where the fuel ran out is worth showing, the instrumenter's own frame is not.
      const stack = t.stack.filter((f) => !f.startsWith(OUT_OF_FUEL_NAME));
      const frames = t.frames.filter((f) => f.name !== OUT_OF_FUEL_NAME);
      const message = `all fuel consumed: ${what} used its ${ABI_ALLOWANCE.toLocaleString('en-US')} fuel allowance`;
      return { outcome: 'out_of_fuel', kind: 'out of fuel', stack, message, trap: { ...t, stack, frames } };
    }
    return { outcome: 'trap', kind: t.kind, stack: t.stack, message: `${what} trapped: ${t.message}`, trap: t };
  };

  /**
   * Output the guest still holds goes to the log at the end of each call: what its libc buffered
   * (through its optional `bext_flush` export, e.g. fflush in the C SDK), then any text written
   * without a final newline.
   */
  const flushGuestOutput = (s: State): void => {
    const flush = s.flush;
    if (flush) {
      try {
        s.guest.setFuel(ABI_ALLOWANCE);
        flush();
      } catch (err) {
        log('warn', allowanceFailure(s.guest, err, 'bext_flush').message, 'host');
      }
    }
    s.wasi.flush();
  };

  /**
   * Runs a hook call: its arguments copied into the guest, then the call metered. Its wall time
   * counts from `start` (a batch passes the end of the call before), the copy included.
   */
  const callHook = (s: State, msg: HookCall, start = performance.now()): CallReport => {
    const hook = msg.hook;
    const ret = s.init.summary.hooks[hook];
    const fn = s.guest.exports[hook] as GuestFn | undefined;
    if (ret === undefined || typeof fn !== 'function') return { outcome: 'ok', fuelUsed: 0, wallUs: 0, skipped: true };
    if (s.busy) return { outcome: 'error', fuelUsed: 0, wallUs: 0, message: 'refused: plugin is not re-entrant (a call is already running)' };
    s.busy = true;
    const { strings, tail } = msg;
    const guest = s.guest;
    // (ptr, len) of each string copied in, then the trailing i32s: the hook's parameters.
    const params = paramsOf(2 * strings.length + tail.length);
    let copied = 0;
    try {
      try {
        for (let k = 0; k < strings.length; k++) {
          const bytes = strings[k]!;
          guest.setFuel(ABI_ALLOWANCE);
          const ptr = guest.write(bytes);
          if (ptr === null) {
            return { outcome: 'error', fuelUsed: 0, wallUs: 0, message: `the guest allocator could not provide ${bytes.length} bytes for the ${hook} arguments` };
          }
          params[copied] = ptr;
          params[copied + 1] = bytes.length;
          copied += 2;
        }
      } catch (err) {
        const f = allowanceFailure(guest, err, `the allocator, passing ${hook} arguments,`);
        const report: CallReport = { outcome: f.outcome, fuelUsed: 0, wallUs: 0, message: f.message, ...trapPlace(f.trap, undefined), stack: f.stack };
        if (f.outcome === 'trap') report.trapKind = f.kind;
        return report;
      }
      for (let k = 0; k < tail.length; k++) params[copied + k] = tail[k]!;
      const report = metered(guest, msg.budget, hook, fn, params, ret, msg.profile ? s.profiler : null, start);
      // Arguments belong to the host until the hook returns; then the host frees them.
      if (copied > 0 && guest.canFree) {
        try {
          guest.setFuel(ABI_ALLOWANCE);
          for (let k = 0; k < copied; k += 2) guest.free(params[k]!, params[k + 1]!);
        } catch (err) {
          log('warn', allowanceFailure(guest, err, `freeing ${hook} arguments`).message, 'host');
        }
      }
      return report;
    } finally {
      flushGuestOutput(s);
      s.busy = false;
    }
  };

  const init = async (msg: InitMessage): Promise<void> => {
    logs.setLevel(msg.logLevel);
    functionNames = msg.functionNames;
    progress = new BatchProgress(msg.progress);
    const callMain = connectBridge(msg.bridge);
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(msg.configJson) as Record<string, unknown>;
    } catch {
      config = {};
    }
    let guestRef: Guest | null = null;
    const wasi = createWasi((stream, line) => {
      noteOutput(stream, line);
      log('debug', line, stream);
    });
    const hostImports = buildImportObject(capabilities, {
      guest: () => guestRef!,
      plugin: msg.plugin,
      permissions: msg.permissions,
      config,
      stateDir: msg.stateDir,
      callMain,
      multiValue: new Set(msg.summary.multiValueImports),
      imported: new Set(WebAssembly.Module.imports(msg.module).filter((i) => i.module === HOST_MODULE).map((i) => i.name)),
      log: (level, text, source) => log(level, text, source),
      metric: (name, value, tags) => metrics.add({ name, value, tags }),
      resource: (key, open, close) => resources.get(key, open, close),
    });
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(msg.module, { [HOST_MODULE]: hostImports, [WASI_MODULE]: wasi.imports } as WebAssembly.Imports);
    } catch (err) {
      // A start section runs inside instantiate, so there is no instance to read bext_fuel from;
      // the instrumenter's out-of-fuel frame alone identifies the fuel trap.
      if (isOutOfFuel(err, 0n)) {
        post({ type: 'init_failed', message: `start function ran out of fuel: all fuel consumed: start used its ${msg.initBudget.toLocaleString('en-US')} budget` });
        return;
      }
      const t = classifyTrap(err, names());
      post({ type: 'init_failed', message: `instantiation failed: ${err instanceof WebAssembly.LinkError || err instanceof WebAssembly.RuntimeError ? err.message : t.message}` });
      return;
    }
    const guest = new Guest(instance.exports, msg.summary, FUEL_GLOBAL);
    guestRef = guest;
    wasi.attach(guest.memory);
    let profiler: Profiler | null = null;
    if (msg.profile) {
      const collector = new ProfileCollector();
      profiler = { collector, reports: attachProfileHooks(instance.exports, collector) };
    }
    const flushExport = instance.exports.bext_flush;
    const s: State = { init: msg, guest, wasi, busy: false, profiler, flush: typeof flushExport === 'function' ? (flushExport as () => unknown) : null };

    post({ type: 'initializing' });
    let initReport: CallReport | null = null;
    const initFn = instance.exports._initialize;
    if (msg.summary.hasInitialize && typeof initFn === 'function') {
      initReport = metered(guest, msg.initBudget, '_initialize', initFn as GuestFn, NO_PARAMS, 'none');
      flushGuestOutput(s);
      if (initReport.outcome !== 'ok') {
        post({ type: 'init_failed', message: `_initialize ${initReport.outcome === 'out_of_fuel' ? 'ran out of fuel' : 'trapped'}: ${initReport.message}`, report: initReport });
        return;
      }
    }
    let guestName: string | null = null;
    let guestPriority: number | null = null;
    try {
      if (msg.summary.hasName) {
        const v = allowance(guest, () => (instance.exports.bext_name as () => bigint)());
        const { ptr, len } = unpack(v);
        if (len > 0 && len <= 256 && ptr + len <= guest.size) guestName = utf8Lenient(guest.view(ptr, len, 'bext_name', 'name'));
      }
      if (msg.summary.hasPriority) guestPriority = allowance(guest, () => (instance.exports.bext_priority as () => number)());
    } catch (err) {
      log('warn', allowanceFailure(guest, err, 'bext_name/bext_priority').message, 'host');
    }
    state = s;
    const hooks = Object.keys(msg.summary.hooks) as HookName[];
    post({ type: 'ready', hooks, guestName, guestPriority, init: initReport });
    if (msg.calls) {
      callChannel = serveCalls(msg.calls, {
        run: (call) => callHook(s, call),
        postResult: (id, report) => post({ type: 'result', id, report }),
        runBatch: runCalls,
        postBatchResult: (id, outcome) => post({ type: 'batch_result', id, ...outcome }),
        posted: () => {
          // Whatever the call said is posted now, so the result knows whether it must follow it.
          metrics.flush();
          logs.flush();
          return postedCount;
        },
      }, HOT_WAIT_MS, msg.pollCalls === false ? 0 : WORKER_POLL_MS, msg.events ? new EventLogReader(msg.events) : undefined);
    }
  };

  /**
   * Runs `n` calls in order, each read with `next()` as it starts; each call is metered and
   * reported on its own (see BatchProgress). The calls came by message or through the channel.
   */
  const runCalls = (n: number, next: () => HookCall): BatchOutcome => {
    const failed: BatchOutcome['failed'] = [];
    if (!state || !progress) {
      const report: CallReport = { outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: 'worker is not initialised' };
      for (let i = 0; i < n; i++) failed.push({ index: i, report });
      return { count: n, failed };
    }
    // One clock read per call: a call starts where the one before ended (its wall time then
    // counts the reading of its event and the copy of its arguments too).
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      // Shutdown stopped waiting: the calls not yet started are left out (count says how many ran).
      if (i > 0 && progress.cancelled()) return { count: i, failed };
      progress.begin(i, t);
      callEnd = -1;
      const report = callHook(state, next(), t);
      // A call that never ran (hook not exported, arguments refused) read no clock.
      t = callEnd >= 0 ? callEnd : performance.now();
      progress.finish(i, report);
      if (report.outcome !== 'ok') failed.push({ index: i, report });
    }
    return { count: n, failed };
  };

  const runBatch = (msg: BatchMessage): BatchResultMessage => {
    let i = 0;
    const outcome = runCalls(msg.args.length, () => {
      const call = encodedCall({ args: msg.args[i]!, budget: msg.budgets[i]! });
      i++;
      return call;
    });
    return { type: 'batch_result', id: msg.id, ...outcome };
  };

  const gc = (): void => {
    v8.setFlagsFromString('--expose-gc');
    const f = vm.runInNewContext('gc') as (() => void) | undefined;
    f?.();
  };

  port.on('message', (msg: ToWorker) => {
    switch (msg.type) {
      case 'init':
        init(msg).catch((err: unknown) => post({ type: 'init_failed', message: `worker failed to start: ${(err as Error)?.message ?? String(err)}` }));
        return;
      case 'call': {
        if (!state) {
          post({ type: 'result', id: msg.id, report: { outcome: 'crashed', fuelUsed: 0, wallUs: 0, message: 'worker is not initialised' } });
          return;
        }
        post({ type: 'result', id: msg.id, report: callHook(state, encodedCall(msg)) });
        return;
      }
      case 'batch':
        post(runBatch(msg));
        return;
      case 'close': {
        callChannel?.stop();
        try {
          resources.closeAll();
          metrics.flush();
          logs.close();
        } finally {
          port.close();
          if (!isMainThread) process.exit(0);
        }
        return;
      }
      case 'stats': {
        if (msg.gc) gc();
        post({ type: 'stats', id: msg.id, heapUsedBytes: v8.getHeapStatistics().used_heap_size, wasmMemoryBytes: state?.guest.size ?? 0 });
        return;
      }
    }
  });
}
