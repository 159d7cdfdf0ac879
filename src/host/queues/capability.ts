/** `queue_publish/consume`: durable FIFO queues named in `queue_names`. */
import { ABI } from '../../runtime/abi-codes.js';
import type { Capability } from '../../runtime/capability.js';
import { instanceQuota } from '../quota.js';
import { instanceStateDb } from '../state-db.js';
import { createQueues, type Queues } from './store.js';

const I = 'i32' as const;

export const queues: Capability<Queues> = {
  name: 'queues',
  imports: [
    { name: 'queue_publish', params: [I, I, I, I], results: [I], returnsData: false, ranges: ['queue', 'message'] },
    { name: 'queue_consume', params: [I, I], results: ['i64'], returnsData: true, ranges: ['queue'] },
  ],
  codes: [ABI.NOT_FOUND, ABI.PERMISSION_DENIED, ABI.QUOTA_EXCEEDED, ABI.INVALID_ARGUMENT, ABI.TOO_LARGE, ABI.INTERNAL],
  prepareAtStart: true,
  prepare(ctx) {
    const db = instanceStateDb(ctx);
    const { queue_names } = ctx.permissions;
    return createQueues(db, ctx.plugin, queue_names, instanceQuota(ctx));
  },
  implement: (io) => ({
    queue_publish(qp: number, ql: number, mp: number, ml: number): number {
      const queue = io.str('queue_publish', 'queue', qp, ql);
      const msg = io.bytes('queue_publish', 'message', mp, ml);
      if (queue === null) return ABI.INVALID_ARGUMENT;
      return io.guarded('queue_publish', () => io.state().publish(queue, msg));
    },
    queue_consume(qp: number, ql: number) {
      const queue = io.str('queue_consume', 'queue', qp, ql);
      if (queue === null) return io.deliver('queue_consume', ABI.INVALID_ARGUMENT);
      return io.deliver('queue_consume', io.guarded('queue_consume', () => io.state().consume(queue)));
    },
  }),
};
