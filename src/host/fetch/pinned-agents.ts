/**
 * Connections go to the address bext checked, never to a second DNS answer: each undici Agent
 * here has `connect.lookup` pinned to one address, so a name that resolves to a public address
 * for the check and a private one a moment later (DNS rebinding) still connects to the checked
 * one. TLS keeps the URL's host name for SNI and certificate checks. Agents are cached per
 * address (small LRU) so keep-alive connections are reused across fetches.
 */
import { createRequire } from 'node:module';
import type { Agent } from 'undici';

// undici loads with the first fetch: bext starts without it (most plugins never fetch).
const load = createRequire(import.meta.url);
import type { LookupAddress } from 'node:dns';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function pinnedLookup(target: ResolvedAddress) {
  return (_host: string, options: { all?: boolean } | number | LookupCallback, cb?: LookupCallback): void => {
    const callback = (typeof options === 'function' ? options : cb) as LookupCallback;
    const all = typeof options === 'object' && options !== null && options.all === true;
    if (all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
}

export interface AgentPool {
  get(target: ResolvedAddress): Agent;
  close(): Promise<void>;
}

export function createAgentPool(max = 16): AgentPool {
  const agents = new Map<string, Agent>();
  return {
    get(target: ResolvedAddress): Agent {
      const key = `${target.family}/${target.address}`;
      const hit = agents.get(key);
      if (hit) {
        agents.delete(key);
        agents.set(key, hit);
        return hit;
      }
      const { Agent: AgentClass } = load('undici') as { Agent: typeof Agent };
      const agent = new AgentClass({
        connect: { lookup: pinnedLookup(target) as never },
        keepAliveTimeout: 4_000,
        connections: 8,
      });
      agents.set(key, agent);
      if (agents.size > max) {
        const [oldKey, old] = agents.entries().next().value as [string, Agent];
        agents.delete(oldKey);
        void old.close().catch(() => undefined);
      }
      return agent;
    },
    async close(): Promise<void> {
      const all = [...agents.values()];
      agents.clear();
      // destroy, not close: close() would wait for a connection attempt that a fetch's deadline
      // already gave up on (undici's own connect timeout, ~10 s); nothing is waiting for its answer.
      await Promise.allSettled(all.map((a) => a.destroy()));
    },
  };
}
