/**
 * The contract between the plugin runtime and everything that drives it (server, CLI, stats).
 * The server never touches a worker or a wasm instance directly; it holds PluginHandles.
 */
import type { HookName, PluginConfig } from '../config/types.js';
import type { MainOp } from './sync-bridge.js';
import type { ImportTable } from './capability.js';
import type { CallProfile } from './profiler.js';
import type { GuestFrame } from './frames/symbolize.js';

export type { MainOp };

export type Outcome = 'ok' | 'error' | 'out_of_fuel' | 'trap' | 'timeout' | 'crashed';
export const OUTCOMES: readonly Outcome[] = ['ok', 'error', 'out_of_fuel', 'trap', 'timeout', 'crashed'];

/** Arguments per hook, in ABI order. Strings are passed to the guest as UTF-8 (ptr, len). */
export type HookArgs =
  | { hook: 'on_server_start'; configJson: string }
  | { hook: 'on_request_complete'; eventJson: string }
  | { hook: 'on_cache_write'; key: string; tagsJson: string }
  | { hook: 'on_cache_invalidate'; pattern: string; count: number }
  | { hook: 'on_reload' | 'on_server_stop' | 'cleanup' };

/** A call waiting in a queue: its arguments, or an on_request_complete event by its sequence number in the event log (event-log.ts). */
export type QueuedCall = HookArgs | number;

export interface CallResult {
  plugin: string;
  hook: HookName;
  budget: number;
  outcome: Outcome;
  /** Fuel consumed by this call (budget − remaining; capped at budget on out_of_fuel). */
  fuelUsed: number;
  /** Wall time of the call in microseconds. */
  wallUs: number;
  /** Guest error string, trap message, or timeout/crash reason. Absent on ok. */
  message?: string;
  /** Trap kind, e.g. 'unreachable', 'out of bounds memory access', 'stack overflow'. */
  trapKind?: string;
  /**
   * Guest stack, innermost first, one line per frame: `name @ 0xOFF (file:line:col)`, the name
   * demangled, the offset in the user's module, the source position when it has DWARF. Rust's
   * panic frames are folded into one line unless BEXT_PLUGIN_LOG=trace.
   */
  stack?: string[];
  /** Every frame behind `stack`, unfolded, with the source line's text when the file is readable. */
  frames?: GuestFrame[];
  /** A Rust panic's message and location (`MSG at FILE:L:C`), when the trap followed one. */
  panic?: string;
  /** True when the module does not export this hook (no call happened). */
  skipped?: boolean;
  /** Where the call's fuel went, per call path (only for calls run under LoadOptions.profile). */
  profile?: CallProfile;
}


/**
 * Run the plugin as a profiling build (docs/fuel.md, "Profiling builds") and collect the fuel
 * profile of some of its calls. The build is slower than a normal one even for calls that are not
 * profiled, so only `bext plugin profile`, `plugin run --profile` and BEXT_PROFILE ask for it.
 */
export interface ProfileRequest {
  /** Only calls of this hook are profiled (default: every hook). */
  hook?: HookName;
  /** How many calls to profile (default: every call). */
  calls?: number;
  /** Receives each profiled call's result, `profile` set, after onCall. */
  onProfile?(result: CallResult): void;
}

/**
 * `stale`: a version is loaded and serving, but the file (or config) changed and the new version
 * failed to load; `error` says why. It becomes `loaded` again when a later version loads.
 */
export type PluginState = 'loaded' | 'stale' | 'failed' | 'disabled';

export interface PluginInfo {
  name: string;
  path: string;
  state: PluginState;
  priority: number;
  hooks: HookName[];
  budgets: Record<HookName, number>;
  /** Load error when state is 'failed' or 'stale'. */
  error?: string;
}

/** One metric sample reported by a guest through `emit_metric`. */
export interface MetricSample {
  plugin: string;
  name: string;
  value: number;
  tags: Record<string, string>;
}

/**
 * One quantity of a tally's calls as whole numbers (rounded; negative or non-finite = 0): each
 * distinct value with how many calls had it (ascending), and the exact total, min and max.
 */
export interface ValueCounts {
  values: number[];
  counts: number[];
  total: number;
  min: number;
  max: number;
}

/**
 * Calls of one hook, run back to back in one batch, that all ended ok: what stats need of them
 * (how many, the fuel and wall time of each) without a CallResult per call (see tally.ts). The
 * fire-and-forget path (PluginHandle.callQueued) reports these; a failed call is always reported
 * on its own.
 */
export interface CallTally {
  plugin: string;
  hook: HookName;
  budget: number;
  /** How many calls (calls to a hook the module does not export are not counted). */
  count: number;
  fuel: ValueCounts;
  wallUs: ValueCounts;
  /** Each call's exact fuel and wall time, as the batch progress recorded them (read with tallyCalls). */
  slots: Float64Array;
}

/** What callQueued ran: `ran` calls from the first, as tallies and results. */
export interface QueuedRun {
  /** How many calls ran (as callBatch's result count: fewer when a call timed out or crashed). */
  ran: number;
  /** The calls of chunks that ended all ok, per hook. */
  tallies: CallTally[];
  /** Every other call that ran, in order, with its index in the list given. */
  results: { index: number; result: CallResult }[];
}

export interface PluginHandle {
  readonly info: PluginInfo;
  /** Runs one hook; never throws for guest failures (they are outcomes). Calls are serialized. */
  call(args: HookArgs): Promise<CallResult>;
  /**
   * Runs several hooks one after another in a single round trip to the worker (still serialized
   * with every other call, each metered and reported on its own). Resolves with the results of
   * the calls that ran, in order: fewer than `args.length` when a call timed out or the worker
   * crashed (that call's result is the last one; the rest did not run and may be retried).
   */
  callBatch?(args: readonly HookArgs[]): Promise<CallResult[]>;
  /**
   * Runs queued hooks (events nobody awaits) as callBatch does, but reports the calls of each
   * chunk that ended ok as tallies (CallTally), to onTally and in the result, instead of a
   * CallResult per call; every call of a chunk where one failed is reported as callBatch would.
   * An event given by its place in the event log is read by the worker from there.
   */
  callQueued?(args: readonly QueuedCall[]): Promise<QueuedRun>;
  /**
   * Asks the batch running now to stop after its current call (shutdown gave up waiting): the
   * calls after it do not run and callBatch resolves with fewer results, as after a timeout.
   */
  cancelBatch?(): void;
  /** Terminates the worker. Does not run any hook. */
  close(): Promise<void>;
}

/** Hooks back from the runtime to its owner (server or CLI). All optional. */
export interface RuntimeEvents {
  onCall?(result: CallResult): void;
  /**
   * Receives the tallies of callQueued (calls that ended ok, counted together). Without it those
   * calls go to onCall one by one, as CallResults.
   */
  onTally?(tally: CallTally): void;
  onMetric?(sample: MetricSample): void;
  /** A refused http_fetch, for stats. */
  onFetchRefused?(plugin: string, url: string, reason: string): void;
}

export type HookChannel = 'shared' | 'message';

export interface LoadOptions extends RuntimeEvents {
  plugin: PluginConfig;
  /** `.bext/` folder: cache/ and state.db live here. */
  stateDir: string;
  /** The host's `"bext"` import table, checked against the module before anything runs. */
  imports: ImportTable;
  /**
   * The worker thread's entry module: it calls `runWorker` with the capabilities that implement
   * `imports` (src/plugins/worker-entry.ts).
   */
  workerEntry: URL;
  /**
   * Answers a worker's synchronous request to the main thread (today: `http_fetch`, payload =
   * request JSON, answer = response JSON). The guest blocks until the promise settles; the call's
   * `timeout_ms` is the backstop. Default: `{"status":0,"error":"network not available"}`.
   */
  onMainCall?(plugin: string, op: MainOp, payload: string): Promise<string>;
  /** Log each failed call (warn) and its guest stack (debug) to the plugin logger. Default true. */
  logOutcomes?: boolean;
  /**
   * Receives what the plugin says (its `log` calls, WASI stdout/stderr lines, host notes about it)
   * instead of the plugin logger. Used by `bext plugin run` to print them with the result.
   */
  onLog?(entry: PluginLogEntry): void;
  /** Lowest level collected from the guest (trace..error). Default: BEXT_PLUGIN_LOG (warn). */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /**
   * How hook calls reach the worker: `shared` (default) through shared memory (call-channel.ts),
   * `message` by postMessage only. For comparison and tests; BEXT_HOOK_CHANNEL sets the default.
   */
  hookChannel?: HookChannel;
  /**
   * On the shared channel, each side looks again for a few microseconds before it sleeps: the
   * worker for the next call after one, the main thread for a quick call's result (see
   * call-channel.ts). Default true; false always sleeps at once. For comparison.
   */
  hookPoll?: boolean;
  /** Load the profiling build and profile these calls. */
  profile?: ProfileRequest;
}

export interface PluginLogEntry {
  plugin: string;
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** guest = the `log` import; stdout/stderr = WASI output, one line each; host = the runtime. */
  source: 'guest' | 'stdout' | 'stderr' | 'host';
  msg: string;
}
