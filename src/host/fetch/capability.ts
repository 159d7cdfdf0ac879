/**
 * `http_fetch`, worker side: the guest's request JSON crosses the sync bridge to the main thread,
 * where the fetch handler (index.ts) applies allowed_urls, the rate limit and the address rules;
 * the worker blocks until the response JSON comes back. Failures reach the guest as
 * `{"status":0,"error":"..."}`; only bytes that are not a JSON object are an ABI code.
 */
import { ABI } from '../../runtime/abi-codes.js';
import type { Capability, CapabilityContext } from '../../runtime/capability.js';
import { encoder } from '../../runtime/guest.js';
import { logger } from '../../log.js';

/** The main-thread operation this capability asks for (LoadOptions.onMainCall). */
export const FETCH_OP = 'http_fetch';

type Fetch = (requestJson: string) => string;

/** Request JSON in, response JSON out; a broken bridge is an error response, never a throw. */
export function bridgedFetch(ctx: Pick<CapabilityContext, 'plugin' | 'callMain'>): Fetch {
  return (requestJson) => {
    try {
      return ctx.callMain(FETCH_OP, requestJson);
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      logger().error({ plugin: ctx.plugin, err: message }, 'http_fetch bridge failed');
      return JSON.stringify({ status: 0, error: `internal: ${message}` });
    }
  };
}

function isJsonObject(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

const I = 'i32' as const;

export const fetch: Capability<Fetch> = {
  name: 'fetch',
  imports: [{ name: 'http_fetch', params: [I, I], results: ['i64'], returnsData: true, ranges: ['request'] }],
  codes: [ABI.INVALID_ARGUMENT, ABI.TOO_LARGE, ABI.INTERNAL],
  prepare: bridgedFetch,
  implement: (io) => ({
    http_fetch(rp: number, rl: number) {
      const req = io.str('http_fetch', 'request', rp, rl);
      if (req === null || !isJsonObject(req)) return io.deliver('http_fetch', ABI.INVALID_ARGUMENT);
      return io.deliver('http_fetch', io.guarded('http_fetch', () => encoder.encode(io.state()(req))));
    },
  }),
};
