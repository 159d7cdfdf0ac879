/**
 * The per-plugin state of the SQLite-backed capabilities (storage, kv, queues) and the fetch
 * bridge, as plain functions on bytes, without a wasm instance: for tests, benches and tools that
 * exercise host services directly. The worker does not use this module; it gets its imports from
 * the registry (registry.ts). Everything shares one connection to the given file, as in a worker.
 */
import type { PermissionsConfig } from '../config/types.js';
import type { ReadResult } from '../runtime/abi-codes.js';
import type { MainOp } from '../runtime/sync-bridge.js';
import { bridgedFetch } from './fetch/capability.js';
import { createKv } from './kv/store.js';
import { logger } from '../log.js';
import { createQueues } from './queues/store.js';
import { createQuota } from './quota.js';
import { openStateDb } from './state-db.js';
import { createStorage } from './storage/store.js';

export interface ServicesInit {
  plugin: string;
  /** The state database file (normally `stateDbPath(stateDir)`). */
  stateDbPath: string;
  permissions: PermissionsConfig;
  /** Answers http_fetch (in a worker: the sync bridge to the main thread). */
  callMain(op: MainOp, payload: string): string;
}

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
  /** Flush and close the connection. */
  close(): void;
}

export function createWorkerServices(init: ServicesInit): WorkerServices {
  const { plugin, permissions } = init;
  const db = openStateDb(init.stateDbPath);
  const quota = createQuota(db, plugin, permissions.storage_quota_kb);
  const storage = createStorage(db, plugin, quota);
  const kv = createKv(db, plugin, permissions.kv_namespaces, quota);
  const queues = createQueues(db, plugin, permissions.queue_names, quota);
  let closed = false;

  return {
    storageGet: storage.get,
    storageSet: storage.set,
    storageDelete: storage.delete,
    kvGet: kv.get,
    kvSet: kv.set,
    kvDelete: kv.delete,
    queuePublish: queues.publish,
    queueConsume: queues.consume,
    httpFetch: bridgedFetch({ plugin, callMain: init.callMain }),
    close(): void {
      if (closed) return;
      closed = true;
      try {
        db.close();
      } catch (err) {
        logger().warn({ plugin, err: (err as Error)?.message }, 'closing the state database failed');
      }
    },
  };
}
