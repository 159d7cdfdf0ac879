/**
 * What a host capability is, as the runtime sees it. A capability (log, storage, kv, queues,
 * fetch, metrics, config; see src/host/registry.ts) declares its `"bext"` imports, the ABI codes
 * they may return, how to prepare its per-instance state, and the worker-side functions behind
 * its imports. The runtime derives the import table the loader checks from these declarations
 * and builds each instance's import object from them; it never names a capability itself.
 *
 * The runtime defines the shape and the host layer fills it in: runtime code never imports
 * src/host. The worker receives its capabilities from its entry (src/plugins/worker-entry.ts).
 */
import type { PermissionsConfig } from '../config/types.js';
import type { AbiCode } from './abi-codes.js';
import type { LogEntry } from './messages.js';
import type { MainOp } from './sync-bridge.js';
import type { ValType } from '../wasm/index.js';

/** One `"bext"` import, as the guest must declare it. */
export interface HostImportSpec {
  name: string;
  params: ValType[];
  /** The main result form. */
  results: ValType[];
  /**
   * True when the import hands bytes to the guest (`-> i64` packed); such an import also accepts
   * the multi-value `(i32, i32)` result form.
   */
  returnsData: boolean;
  /** Names of the pointer/length pairs, in order, for bounds-check messages. */
  ranges: string[];
}

/** Every `"bext"` import, in ABI order (what `checkAbi` compares a module against). */
export type ImportTable = readonly HostImportSpec[];

export type GuestLevel = LogEntry['level'];
export type LogSource = LogEntry['source'];

/** What a capability may use to prepare its state and run its imports (one guest instance). */
export interface CapabilityContext {
  plugin: string;
  permissions: PermissionsConfig;
  /** The plugin's `[config]` table. */
  config: Record<string, unknown>;
  /** The `.bext/` folder (cache/ and state.db live there). */
  stateDir: string;
  /** Blocks the worker until the main thread answers (see sync-bridge.ts). */
  callMain(op: MainOp, payload: string): string;
  /** A line for the plugin's log: `guest` for what the guest said, `host` for notes about it. */
  log(level: GuestLevel, msg: string, source: LogSource): void;
  metric(name: string, value: number, tags: Record<string, string>): void;
  /**
   * One value per guest instance under `key`, opened on first request and closed when the worker
   * closes. Capabilities that share a resource (one SQLite connection) ask for the same key.
   */
  resource<T>(key: string, open: () => T, close: (value: T) => void): T;
}

/** Bytes for the guest, or a negative ABI code. */
export type Data = Uint8Array | number;

/** A result in the form the guest declared: packed i64, or multi-value `[ptr | code, len]`. */
export type Delivered = bigint | [number, number];

/** The guest-memory side of an import, shared by every capability (bounds, UTF-8, results). */
export interface ImportIO<State> {
  readonly ctx: CapabilityContext;
  /** The capability's state for this instance, prepared on first use (call it inside `guarded`). */
  state(): State;
  /** A bounds-checked copy of guest bytes; a bad range traps the call naming the import. */
  bytes(name: string, what: string, ptr: number, len: number): Uint8Array;
  /** Guest bytes as strict UTF-8; null when they are not UTF-8 (an invalid argument). */
  str(name: string, what: string, ptr: number, len: number): string | null;
  /** Guest bytes as UTF-8, bad sequences replaced (for text that is only shown). */
  text(name: string, what: string, ptr: number, len: number): string;
  /** Hands bytes (written through the guest allocator) or an ABI code to the guest. */
  deliver(name: string, data: Data): Delivered;
  /** Runs host work; a throw (other than a guest fault) is logged and becomes INTERNAL. */
  guarded<T>(name: string, f: () => T): T | number;
}

export type HostFunction = (...args: never[]) => unknown;

export interface Capability<State = unknown> {
  /** Short name, also its folder under src/host/. */
  readonly name: string;
  /** Its `"bext"` imports, in ABI order. */
  readonly imports: ImportTable;
  /** The ABI codes its imports may hand the guest (docs/abi.md). */
  readonly codes: readonly AbiCode[];
  /** Per-instance state (permissions applied, connections opened); runs on first use. */
  prepare(ctx: CapabilityContext): State;
  /**
   * Prepare while the instance starts when the guest imports any of this capability's functions,
   * instead of on first use: opening SQLite inside on_server_start would cost it once per plugin,
   * one plugin after another, where at start every plugin's worker does it at the same time.
   * A failure here is ignored; first use tries again and reports it as before.
   */
  readonly prepareAtStart?: boolean;
  /** The worker-side function behind each of its imports, by import name. */
  implement(io: ImportIO<State>): Record<string, HostFunction>;
}

/**
 * The import table of a capability list, in list order. Two capabilities declaring the same
 * import is a programming error, caught when the registry is built.
 */
export function importTable(capabilities: readonly Capability[]): ImportTable {
  const owner = new Map<string, string>();
  const table: HostImportSpec[] = [];
  for (const cap of capabilities) {
    for (const spec of cap.imports) {
      const other = owner.get(spec.name);
      if (other !== undefined) throw new Error(`host import ${spec.name} is declared by both ${other} and ${cap.name}`);
      owner.set(spec.name, cap.name);
      table.push(spec);
    }
  }
  return Object.freeze(table);
}
