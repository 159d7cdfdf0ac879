/**
 * The `"bext"` import object: the ABI adapter between guest memory and host services. Each import
 * bounds-checks its pointers (a bad one traps the call), decodes UTF-8/JSON (bad input is
 * INVALID_ARGUMENT, never a host exception), calls a service, and writes any result back through
 * the guest allocator. Services (storage, kv, queues, fetch) know nothing about wasm.
 */
import { ABI, type WorkerServices } from './services.js';
import { encoder, GuestFault, pack, utf8, utf8Lenient, type Guest } from './guest.js';
import { HOST_IMPORTS } from './linker.js';
import type { LogMessage } from './messages.js';

export type GuestLevel = LogMessage['level'];

/** Same mapping as host/log.ts guestLevel(), kept here so the worker does not load pino. */
export function mapGuestLevel(level: string): GuestLevel {
  const v = level.trim().toLowerCase();
  if (v === 'warning') return 'warn';
  if (v === 'trace' || v === 'debug' || v === 'info' || v === 'warn' || v === 'error') return v;
  return 'info';
}

export interface AbiContext {
  guest(): Guest;
  /** Created on first use (opening the state database is not free). */
  services(): WorkerServices;
  config: Record<string, unknown>;
  /** Imports the guest declared in the multi-value `(i32, i32)` result form. */
  multiValue: ReadonlySet<string>;
  log(level: GuestLevel, msg: string, source: LogMessage['source']): void;
  metric(name: string, value: number, tags: Record<string, string>): void;
}

/** A result that is either bytes for the guest or an ABI error code. */
type Data = Uint8Array | number;

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

/** Tags as a JSON object (values stringified) or `[[k, v], ...]`; null when neither. */
export function parseTags(text: string): Record<string, string> | null {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const scalar = (x: unknown): x is string | number | boolean => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const pair of v) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !scalar(pair[1])) return null;
      out[pair[0]] = String(pair[1]);
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!scalar(x)) return null;
      out[k] = String(x);
    }
    return out;
  }
  return null;
}

export function buildHostImports(ctx: AbiContext): Record<string, (...args: never[]) => unknown> {
  const where = (name: string): string => `bext.${name}`;

  /** Hands bytes (or an error code) to the guest in the form it declared. */
  const deliver = (name: string, data: Data): bigint | [number, number] => {
    const multi = ctx.multiValue.has(name);
    let code: number;
    if (typeof data === 'number') {
      code = data;
    } else {
      const ptr = ctx.guest().write(data);
      if (ptr !== null) return multi ? [ptr, data.length] : pack(ptr, data.length);
      ctx.log('warn', `${where(name)}: the guest allocator could not provide ${data.length} bytes`, 'host');
      code = ABI.TOO_LARGE;
    }
    return multi ? [code, 0] : BigInt(code);
  };

  /** Runs a service call; a throwing service is a host failure reported as INTERNAL. */
  const guarded = <T extends Data>(name: string, f: () => T): T | number => {
    try {
      return f();
    } catch (err) {
      if (err instanceof GuestFault) throw err;
      ctx.log('error', `${where(name)}: host service failed: ${(err as Error)?.message ?? String(err)}`, 'host');
      return ABI.INTERNAL;
    }
  };

  const str = (name: string, what: string, ptr: number, len: number): string | null =>
    utf8(ctx.guest().view(ptr, len, where(name), what));
  const bytes = (name: string, what: string, ptr: number, len: number): Uint8Array => ctx.guest().read(ptr, len, where(name), what);

  const imports = {
    log(lp: number, ll: number, mp: number, ml: number): void {
      const g = ctx.guest();
      const level = utf8Lenient(g.view(lp, ll, where('log'), 'level'));
      const msg = utf8Lenient(g.view(mp, ml, where('log'), 'message'));
      ctx.log(mapGuestLevel(level), msg, 'guest');
    },

    get_config(kp: number, kl: number) {
      const key = str('get_config', 'key', kp, kl);
      if (key === null) return deliver('get_config', ABI.INVALID_ARGUMENT);
      const v = configLookup(ctx.config, key);
      if (v === undefined) return deliver('get_config', ABI.NOT_FOUND);
      return deliver('get_config', encoder.encode(JSON.stringify(v)));
    },

    emit_metric(np: number, nl: number, value: number, tp: number, tl: number): void {
      const name = str('emit_metric', 'name', np, nl);
      const tagsText = str('emit_metric', 'tags', tp, tl);
      if (name === null || name === '') {
        ctx.log('warn', 'bext.emit_metric: metric name is empty or not UTF-8; sample dropped', 'host');
        return;
      }
      const tags = tagsText === null ? null : parseTags(tagsText);
      if (tags === null) {
        ctx.log('warn', `bext.emit_metric: tags for "${name}" are not a JSON object or [[key, value], ...]; sample dropped`, 'host');
        return;
      }
      if (!Number.isFinite(value)) {
        ctx.log('warn', `bext.emit_metric: value of "${name}" is not finite; sample dropped`, 'host');
        return;
      }
      ctx.metric(name, value, tags);
    },

    storage_get(kp: number, kl: number) {
      const key = bytes('storage_get', 'key', kp, kl);
      return deliver('storage_get', guarded('storage_get', () => ctx.services().storageGet(key)));
    },

    storage_set(kp: number, kl: number, vp: number, vl: number): number {
      const key = bytes('storage_set', 'key', kp, kl);
      const value = bytes('storage_set', 'value', vp, vl);
      return guarded('storage_set', () => ctx.services().storageSet(key, value));
    },

    storage_delete(kp: number, kl: number): number {
      const key = bytes('storage_delete', 'key', kp, kl);
      return guarded('storage_delete', () => ctx.services().storageDelete(key));
    },

    kv_get(np: number, nl: number, kp: number, kl: number) {
      const ns = str('kv_get', 'namespace', np, nl);
      const key = bytes('kv_get', 'key', kp, kl);
      if (ns === null) return deliver('kv_get', ABI.INVALID_ARGUMENT);
      return deliver('kv_get', guarded('kv_get', () => ctx.services().kvGet(ns, key)));
    },

    kv_set(np: number, nl: number, kp: number, kl: number, vp: number, vl: number): number {
      const ns = str('kv_set', 'namespace', np, nl);
      const key = bytes('kv_set', 'key', kp, kl);
      const value = bytes('kv_set', 'value', vp, vl);
      if (ns === null) return ABI.INVALID_ARGUMENT;
      return guarded('kv_set', () => ctx.services().kvSet(ns, key, value));
    },

    kv_delete(np: number, nl: number, kp: number, kl: number): number {
      const ns = str('kv_delete', 'namespace', np, nl);
      const key = bytes('kv_delete', 'key', kp, kl);
      if (ns === null) return ABI.INVALID_ARGUMENT;
      return guarded('kv_delete', () => ctx.services().kvDelete(ns, key));
    },

    queue_publish(qp: number, ql: number, mp: number, ml: number): number {
      const queue = str('queue_publish', 'queue', qp, ql);
      const msg = bytes('queue_publish', 'message', mp, ml);
      if (queue === null) return ABI.INVALID_ARGUMENT;
      return guarded('queue_publish', () => ctx.services().queuePublish(queue, msg));
    },

    queue_consume(qp: number, ql: number) {
      const queue = str('queue_consume', 'queue', qp, ql);
      if (queue === null) return deliver('queue_consume', ABI.INVALID_ARGUMENT);
      return deliver('queue_consume', guarded('queue_consume', () => ctx.services().queueConsume(queue)));
    },

    http_fetch(rp: number, rl: number) {
      const req = str('http_fetch', 'request', rp, rl);
      if (req === null) return deliver('http_fetch', ABI.INVALID_ARGUMENT);
      try {
        const parsed: unknown = JSON.parse(req);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return deliver('http_fetch', ABI.INVALID_ARGUMENT);
      } catch {
        return deliver('http_fetch', ABI.INVALID_ARGUMENT);
      }
      const res = guarded('http_fetch', () => encoder.encode(ctx.services().httpFetch(req)));
      return deliver('http_fetch', res);
    },
  };

  // The table in linker.ts and this object must describe the same imports.
  for (const spec of HOST_IMPORTS) {
    if (!(spec.name in imports)) throw new Error(`host import ${spec.name} has no implementation`);
  }
  return imports as Record<string, (...args: never[]) => unknown>;
}

/** Used until host services are available: every service is INTERNAL; fetch goes to the main thread. */
export function fallbackServices(callMain: (op: 'http_fetch', payload: string) => string): WorkerServices {
  const internal = (): number => ABI.INTERNAL;
  return {
    storageGet: internal,
    storageSet: internal,
    storageDelete: internal,
    kvGet: internal,
    kvSet: internal,
    kvDelete: internal,
    queuePublish: internal,
    queueConsume: internal,
    httpFetch: (json) => callMain('http_fetch', json),
    close() {},
  };
}
