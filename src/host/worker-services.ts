/**
 * The host services one plugin's worker uses (the runtime's ABI adapter calls these after it has
 * read the guest's bytes). Everything here runs inside the worker thread on the worker's own
 * SQLite connection; only http_fetch crosses to the main thread, through the sync bridge.
 */
import { ABI, type ServicesInit, type WorkerServices } from '../runtime/services.js';
import { openStateDb } from './state-db.js';
import { createQuota } from './quota.js';
import { createStorage } from './storage.js';
import { createKv } from './kv.js';
import { createQueues } from './queues.js';
import { logger } from './log.js';

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
    httpFetch(requestJson: string): string {
      try {
        return init.callMain('http_fetch', requestJson);
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        logger().error({ plugin, err: message }, 'http_fetch bridge failed');
        return JSON.stringify({ status: 0, error: `internal: ${message}` });
      }
    },
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

export { ABI };
