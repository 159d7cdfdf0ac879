/**
 * The seam between the ABI adapter (src/runtime, which reads and writes guest memory) and the
 * host services (src/host, which know nothing about wasm). Byte arrays in, byte arrays or ABI
 * error codes out. Worker-side services run inside the plugin's worker thread; anything that
 * must happen on the main thread (http_fetch) goes through `callMain`, a synchronous bridge.
 */
import type { PermissionsConfig } from '../config/types.js';

/** ABI error codes (docs/abi.md). */
export const ABI = Object.freeze({
  OK: 0,
  NOT_FOUND: -1,
  PERMISSION_DENIED: -2,
  QUOTA_EXCEEDED: -3,
  RATE_LIMITED: -4,
  INVALID_ARGUMENT: -5,
  TOO_LARGE: -6,
  INTERNAL: -7,
});

/** Result of a read: the bytes, or a negative ABI code. */
export type ReadResult = Uint8Array | number;

export interface WorkerServices {
  storageGet(key: Uint8Array): ReadResult;
  storageSet(key: Uint8Array, value: Uint8Array): number;
  storageDelete(key: Uint8Array): number;
  kvGet(namespace: string, key: Uint8Array): ReadResult;
  kvSet(namespace: string, key: Uint8Array, value: Uint8Array): number;
  kvDelete(namespace: string, key: Uint8Array): number;
  queuePublish(name: string, message: Uint8Array): number;
  queueConsume(name: string): ReadResult;
  /** Request JSON in, response JSON out (failures are `{"status":0,"error":"..."}`). */
  httpFetch(requestJson: string): string;
  /** Flush and close (worker shutdown). */
  close(): void;
}

/** Operations the worker can ask the main thread to perform synchronously. */
export type MainOp = 'http_fetch';

export interface ServicesInit {
  plugin: string;
  /** Absolute path of `.bext/state.db`. */
  stateDbPath: string;
  permissions: PermissionsConfig;
  /** Blocks the worker (Atomics.wait) until the main thread answers. */
  callMain(op: MainOp, payload: string): string;
}

export type CreateWorkerServices = (init: ServicesInit) => WorkerServices;
