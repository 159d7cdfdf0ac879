/**
 * Public API of the fuel instrumenter (see docs/fuel.md). The runtime uses only what is exported here.
 * NOTE: the bodies below are placeholders until the instrumenter lands; signatures are the contract.
 */
import { BextError } from '../errors.js';

/** Name of the exported mutable i64 global holding the fuel remaining. */
export const FUEL_GLOBAL = 'bext_fuel';

export interface InstrumentOptions {
  /** Initial value of `bext_fuel` (meters start functions). Default 0. */
  initialFuel?: bigint;
}

export interface CachedResult {
  bytes: Uint8Array;
  fromCache: boolean;
  /** Time spent (ms), instrumenting or reading the cache. */
  ms: number;
}

/** Rewrites a module so every call is metered; throws BextError('bad_wasm', ...) on bad input. */
export async function instrument(_wasm: Uint8Array, _opts: InstrumentOptions = {}): Promise<Uint8Array> {
  throw new BextError('not_implemented', 'fuel instrumentation is not available yet', { blame: 'host' });
}

/** Like instrument(), through the on-disk cache in `cacheDir` (`.bext/cache`). */
export async function instrumentCached(
  _wasm: Uint8Array,
  _cacheDir: string,
  _opts: InstrumentOptions & { onProgress?: (fraction: number) => void } = {},
): Promise<CachedResult> {
  throw new BextError('not_implemented', 'fuel instrumentation is not available yet', { blame: 'host' });
}

/** Value to store in `bext_fuel` before a top-level call with this budget (accounts for call overhead). */
export function initialFuelFor(budget: number): bigint {
  return BigInt(budget);
}

/** Fuel consumed by a top-level call, given the budget and `bext_fuel` read after it. */
export function fuelUsed(budget: number, remaining: bigint): number {
  const used = BigInt(budget) - remaining;
  return Number(used > BigInt(budget) ? BigInt(budget) : used);
}

/** True when a trap thrown by a call was the fuel check (not the guest's own trap). */
export function isOutOfFuel(_err: unknown, remaining: bigint): boolean {
  return remaining < 0n;
}
