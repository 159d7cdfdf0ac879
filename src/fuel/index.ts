/**
 * Public API of the fuel instrumenter (see docs/fuel.md). The runtime uses only what is exported here.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { instrumentSync, type InstrumentOptions } from './instrument.js';
import { cacheFileName, readCached, writeCached } from './cache.js';
import { ttyProgress } from './progress.js';

export { InstrumenterBug, type InstrumentOptions } from './instrument.js';
export { initialFuelFor, fuelUsed, isOutOfFuel, innermostWasmFrame } from './protocol.js';
export { INSTRUMENTER_VERSION, cacheFileName } from './cache.js';
export { FUEL_GLOBAL, OUT_OF_FUEL_NAME, START_WRAPPER_NAME, PROFILE_TABLE, PROFILE_FLAG } from './contract.js';
export { profileHookModule, attachProfileHooks, type ProfileHookFunctions } from './profile.js';
export { ttyProgress } from './progress.js';

export interface CachedResult {
  bytes: Uint8Array;
  fromCache: boolean;
  /** Time spent (ms), instrumenting or reading the cache. */
  ms: number;
}

/**
 * Rewrites a module so every call is metered. Throws WasmFormatError (src/wasm) on bad input, its
 * kind naming the problem, and InstrumenterBug if the rewrite broke a valid module.
 */
export async function instrument(wasm: Uint8Array, opts: InstrumentOptions = {}): Promise<Uint8Array> {
  return instrumentSync(wasm, opts);
}

/**
 * Like instrument(), through the on-disk cache in `cacheDir` (`.bext/cache`). A warm hit reads one
 * file and checks its checksum; a missing, truncated or corrupt file is rebuilt. Failing to write
 * the cache (read-only disk) is not an error: the fresh bytes are returned anyway.
 */
export async function instrumentCached(
  wasm: Uint8Array,
  cacheDir: string,
  opts: InstrumentOptions & { onProgress?: (fraction: number) => void } = {},
): Promise<CachedResult> {
  const t0 = performance.now();
  const initialFuel = opts.initialFuel ?? 0n;
  const file = path.join(cacheDir, cacheFileName(wasm, initialFuel, opts.maxMemoryPages, opts.profile === true));
  const hit = readCached(file);
  if (hit) return { bytes: hit, fromCache: true, ms: performance.now() - t0 };
  const onProgress = opts.onProgress ?? (process.stderr.isTTY ? ttyProgress('instrumenting') : undefined);
  const bytes = instrumentSync(wasm, { ...opts, initialFuel, onProgress });
  try {
    writeCached(file, bytes);
  } catch {
    // A cache we cannot write only costs time on the next start.
  }
  return { bytes, fromCache: false, ms: performance.now() - t0 };
}
