/**
 * Durable FIFO queues (`queue_publish`, `queue_consume`), one per name, shared by every plugin
 * that lists the name in `permissions.queue_names` (else -2). A message is at most 256 KiB (else
 * -6) and counts against the publisher's quota until it is consumed (over quota → -3).
 * Consuming deletes the message in the same statement that reads it: each message is delivered
 * at most once, in publish order, even with several consumers.
 */
import { ABI, type ReadResult } from '../../runtime/abi-codes.js';
import type { StateDb } from '../state-db.js';
import type { Quota } from '../quota.js';
import { asBuffer } from '../keys.js';
import { guarded } from '../guard.js';

export const MAX_MESSAGE_BYTES = 256 * 1024;

export interface Queues {
  publish(name: string, message: Uint8Array): number;
  consume(name: string): ReadResult;
}

export function createQueues(db: StateDb, plugin: string, names: readonly string[], quota: Quota): Queues {
  const allowed = new Set(names);
  const insert = db.prepare('INSERT INTO host_queue (queue, body, size, publisher, published_ms) VALUES (?, ?, ?, ?, ?)');
  const take = db
    .prepare<[string], Buffer>(
      `DELETE FROM host_queue WHERE id = (SELECT id FROM host_queue WHERE queue = ? ORDER BY id LIMIT 1) RETURNING body`,
    )
    .pluck();

  const publish = db.transaction((name: string, body: Buffer): number => {
    if (!quota.allows(body.length)) return ABI.QUOTA_EXCEEDED;
    insert.run(name, body, body.length, plugin, Date.now());
    return ABI.OK;
  });

  return {
    publish: guarded(plugin, 'queue_publish', (name: string, message: Uint8Array): number => {
      if (!allowed.has(name)) return ABI.PERMISSION_DENIED;
      if (message.length > MAX_MESSAGE_BYTES) return ABI.TOO_LARGE;
      try {
        return publish.immediate(name, asBuffer(message));
      } finally {
        quota.forget(true);
      }
    }),
    consume: guarded(plugin, 'queue_consume', (name: string): ReadResult => {
      if (!allowed.has(name)) return ABI.PERMISSION_DENIED;
      try {
        return take.get(name) ?? ABI.NOT_FOUND;
      } finally {
        quota.forget(true); // the message taken may have been this plugin's
      }
    }),
  };
}
