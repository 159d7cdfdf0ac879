/**
 * A host service must never throw into the guest: a SQLite failure (disk full, lock timeout,
 * corrupt file) becomes ABI "internal" (-7) and an error line naming the plugin and the import.
 */
import { ABI } from '../runtime/abi-codes.js';
import { logger } from '../log.js';

export function guarded<A extends unknown[], R>(plugin: string, op: string, fn: (...args: A) => R | number): (...args: A) => R | number {
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (err) {
      logger().error({ plugin, op, err: (err as Error)?.message ?? String(err) }, `${op} failed inside the host`);
      return ABI.INTERNAL;
    }
  };
}
