/**
 * Every message between a plugin host (main thread) and its worker. Both sides switch on `type`,
 * so adding a message is a compile error until both ends handle it.
 */
import type { HookName, LimitsConfig, PermissionsConfig } from '../config/types.js';
import type { AbiSummary } from './abi-table.js';
import type { BridgeWorkerEnd } from './sync-bridge.js';
import type { RawFrame } from './frames/symbolize.js';
import type { HookArgs, Outcome } from './types.js';

/** What the worker reports about one guest call (the host adds plugin, hook, budget). */
export interface CallReport {
  outcome: Outcome;
  fuelUsed: number;
  wallUs: number;
  message?: string;
  trapKind?: string;
  stack?: string[];
  /** The wasm frames behind `stack`, in the metered module; the host maps them to the user's module. */
  frames?: RawFrame[];
  /** The import that found a bad pointer (its line heads `stack`). */
  hostImport?: string;
  /** A Rust panic's message and location, from what the guest wrote to stderr during the call. */
  panic?: string;
  skipped?: boolean;
}

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
}

export interface CallMessage {
  type: 'call';
  id: number;
  args: HookArgs;
  budget: number;
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

export interface LogMessage {
  type: 'log';
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** guest = the `log` import; stdout/stderr = WASI; host = the runtime about the guest (traps). */
  source: 'guest' | 'stdout' | 'stderr' | 'host';
  msg: string;
  extra?: Record<string, unknown>;
}

export interface MetricMessage {
  type: 'metric';
  name: string;
  value: number;
  tags: Record<string, string>;
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
  | LogMessage
  | MetricMessage
  | StatsMessage;
