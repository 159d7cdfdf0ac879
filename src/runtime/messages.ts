/**
 * Every message between a plugin host (main thread) and its worker. Both sides switch on `type`,
 * so adding a message is a compile error until both ends handle it.
 */
import type { HookName, LimitsConfig, PermissionsConfig } from '../config/types.js';
import type { AbiSummary } from './abi-table.js';
import type { BridgeWorkerEnd } from './sync-bridge.js';
import type { RawFrame } from './frames/symbolize.js';
import type { CallResult, HookArgs } from './types.js';

/**
 * What the worker reports about one guest call: the host adds plugin, hook and budget, and maps
 * `frames` (offsets in the metered module) to the user's module.
 */
export type CallReport = Omit<CallResult, 'plugin' | 'hook' | 'budget' | 'frames'> & {
  frames?: RawFrame[];
  /** The import that found a bad pointer (its line heads `stack`). */
  hostImport?: string;
};

export interface InitMessage {
  type: 'init';
  plugin: string;
  module: WebAssembly.Module;
  summary: AbiSummary;
  /** Function index → export name in the compiled module, for traps in stripped modules. */
  functionNames: Record<number, string>;
  configJson: string;
  permissions: PermissionsConfig;
  limits: LimitsConfig;
  /** The `.bext/` folder (capabilities find state.db there). */
  stateDir: string;
  /** Fuel for `_initialize` (the on_server_start budget). */
  initBudget: number;
  /** Lowest level worth posting back (trace..error); saves a message per filtered log line. */
  logLevel: string;
  bridge: BridgeWorkerEnd;
  /** Progress of batched calls (see BatchProgress in batch-progress.ts). */
  progress: SharedArrayBuffer;
  /** The request event log (event-log.ts): batches name on_request_complete events by their slot in it. */
  events?: SharedArrayBuffer;
  /** The shared call channel (call-channel.ts); absent when every call goes by message. */
  calls?: SharedArrayBuffer;
  /** The worker looks for the next call briefly before it sleeps (LoadOptions.hookPoll). */
  pollCalls?: boolean;
  /** `module` is a profiling build (docs/fuel.md): connect its reports to a collector. */
  profile?: boolean;
}

export interface CallMessage {
  type: 'call';
  id: number;
  args: HookArgs;
  budget: number;
  /** Collect this call's fuel profile (the module must be a profiling build). */
  profile?: boolean;
}

/**
 * Several hook calls in one message, run one after another. Each call's fuel and wall time go to
 * the shared progress buffer as it finishes; only failed calls travel back in the result message.
 */
export interface BatchMessage {
  type: 'batch';
  id: number;
  args: HookArgs[];
  budgets: number[];
}

export interface StatsRequest {
  type: 'stats';
  id: number;
  /** Run a full GC first, so heap numbers compare across calls. */
  gc: boolean;
}

/** Close host services (flush the state database) and exit the worker. */
export interface CloseMessage {
  type: 'close';
}

export type ToWorker = InitMessage | CallMessage | BatchMessage | StatsRequest | CloseMessage;

export interface ReadyMessage {
  type: 'ready';
  hooks: HookName[];
  guestName: string | null;
  guestPriority: number | null;
  init: CallReport | null;
}

/** Instantiated; `_initialize` starts now (its wall time counts against timeout_ms from here). */
export interface InitializingMessage {
  type: 'initializing';
}

export interface InitFailedMessage {
  type: 'init_failed';
  message: string;
  report?: CallReport;
}

export interface ResultMessage {
  type: 'result';
  id: number;
  report: CallReport;
}

/** A batch finished: `count` calls ran; reports of the ones that did not end `ok` (by index). */
export interface BatchResultMessage {
  type: 'batch_result';
  id: number;
  count: number;
  failed: { index: number; report: CallReport }[];
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One line a plugin said (or the runtime said about it). */
export interface LogEntry {
  level: LogLevel;
  /** guest = the `log` import; stdout/stderr = WASI; host = the runtime about the guest (traps). */
  source: 'guest' | 'stdout' | 'stderr' | 'host';
  msg: string;
  extra?: Record<string, unknown>;
}

/**
 * Log lines, batched: one message per call (posted before its result) or per tick outside calls,
 * already filtered by level and rate-limited in the worker (see log-batch.ts).
 */
export interface LogBatchMessage {
  type: 'logs';
  entries: LogEntry[];
}

export interface MetricSampleData {
  name: string;
  value: number;
  tags: Record<string, string>;
}

/** `emit_metric` samples, batched like log lines (at most MAX_METRIC_BATCH per message). */
export interface MetricBatchMessage {
  type: 'metrics';
  samples: MetricSampleData[];
}

export interface StatsMessage {
  type: 'stats';
  id: number;
  heapUsedBytes: number;
  wasmMemoryBytes: number;
}

export type FromWorker =
  | ReadyMessage
  | InitializingMessage
  | InitFailedMessage
  | ResultMessage
  | BatchResultMessage
  | LogBatchMessage
  | MetricBatchMessage
  | StatsMessage;
