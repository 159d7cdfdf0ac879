/** `get_config`: the plugin's `[plugins.NAME.config]` table, one key (dots walk tables) as JSON. */
import { ABI } from '../../runtime/abi-codes.js';
import type { Capability } from '../../runtime/capability.js';
import { encoder } from '../../runtime/guest.js';

/** Walks a dotted key through nested tables; numeric parts index arrays. */
export function configLookup(config: Record<string, unknown>, key: string): unknown {
  if (key === '') return config;
  let cur: unknown = config;
  for (const part of key.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, part)) cur = (cur as Record<string, unknown>)[part];
    else return undefined;
  }
  return cur;
}

const I = 'i32' as const;

export const config: Capability<null> = {
  name: 'config',
  imports: [{ name: 'get_config', params: [I, I], results: ['i64'], returnsData: true, ranges: ['key'] }],
  codes: [ABI.NOT_FOUND, ABI.INVALID_ARGUMENT, ABI.TOO_LARGE],
  prepare: () => null,
  implement: (io) => ({
    get_config(kp: number, kl: number) {
      const key = io.str('get_config', 'key', kp, kl);
      if (key === null) return io.deliver('get_config', ABI.INVALID_ARGUMENT);
      const v = configLookup(io.ctx.config, key);
      if (v === undefined) return io.deliver('get_config', ABI.NOT_FOUND);
      return io.deliver('get_config', encoder.encode(JSON.stringify(v)));
    },
  }),
};
