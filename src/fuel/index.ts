/**
 * Public API of the fuel instrumenter (see docs/fuel.md). The runtime uses only what is exported here.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { instrumentSync, instrumentWithOffsets, type InstrumentOptions } from './instrument.js';
import { cacheFileName, offsetsFileName, readCached, readOffsets, writeCached, writeOffsets } from './cache.js';
import { decodeOffsetMap, encodeOffsetMap, type OffsetMap } from './offset-map.js';
import { ttyProgress } from './progress.js';

export { InstrumenterBug, type InstrumentOptions } from './instrument.js';
export { initialFuelFor, fuelUsed, isOutOfFuel, innermostWasmFrame } from './protocol.js';
export { INSTRUMENTER_VERSION, cacheFileName } from './cache.js';
export { FUEL_GLOBAL, OUT_OF_FUEL_NAME, START_WRAPPER_NAME, PROFILE_TABLE, PROFILE_FLAG } from './contract.js';
export { profileHookModule, attachProfileHooks, type ProfileHookFunctions } from './profile.js';
export { ttyProgress } from './progress.js';
export { inputOffset, offsetMapEntries, type OffsetMap } from './offset-map.js';

export interface CachedResult {
  bytes: Uint8Array;
  fromCache: boolean;
  /** Time spent (ms), instrumenting or reading the cache. */
  ms: number;
  /**
   * Code offsets of `bytes` back to the input's. A cache hit reads them from the side file when
   * first asked (only a trap needs them); a missing or corrupt side file is rebuilt.
   */
  offsets(): OffsetMap;
  /** Removes the entry (and its offset map) from the cache: V8 refused the bytes. */
  discard(): void;
}

/**
 * Rewrites a module so every call is metered. Throws WasmFormatError (src/wasm) on bad input, its
 * kind naming the problem, and InstrumenterBug if the rewrite broke a valid module.
 */
export async function instrument(wasm: Uint8Array, opts: InstrumentOptions = {}): Promise<Uint8Array> {
  return instrumentSync(wasm, opts);
}

/** instrument(), with the map from the output's code offsets back to the input's. */
export async function instrumentMapped(wasm: Uint8Array, opts: InstrumentOptions = {}): Promise<{ bytes: Uint8Array; offsets: OffsetMap }> {
  return instrumentWithOffsets(wasm, opts);
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
  const name = cacheFileName(wasm, initialFuel, opts.maxMemoryPages, opts.profile === true);
  const file = path.join(cacheDir, name);
  const mapFile = path.join(cacheDir, offsetsFileName(name));
  const hit = readCached(file);
  if (hit) {
    let offsets: OffsetMap | undefined;
    const load = (): OffsetMap => {
      if (offsets) return offsets;
      const stored = readOffsets(mapFile);
      offsets = stored ? decodeOffsetMap(stored) : undefined;
      if (!offsets) {
        // The rewrite is deterministic: doing it again gives the map of the cached bytes.
        offsets = instrumentWithOffsets(wasm, { ...opts, initialFuel, onProgress: undefined }).offsets;
        saveQuietly(mapFile, encodeOffsetMap(offsets), writeOffsets);
      }
      return offsets;
    };
    return { bytes: hit, fromCache: true, ms: performance.now() - t0, offsets: load, discard: () => discardEntry(file, mapFile) };
  }
  const onProgress = opts.onProgress ?? (process.stderr.isTTY ? ttyProgress('instrumenting') : undefined);
  const { bytes, offsets } = instrumentWithOffsets(wasm, { ...opts, initialFuel, onProgress });
  // The map first: a module in the cache then always has its map beside it, bar a crash between.
  saveQuietly(mapFile, encodeOffsetMap(offsets), writeOffsets);
  saveQuietly(file, bytes, writeCached);
  return { bytes, fromCache: false, ms: performance.now() - t0, offsets: () => offsets, discard: () => discardEntry(file, mapFile) };
}

function discardEntry(file: string, mapFile: string): void {
  rmSync(file, { force: true });
  rmSync(mapFile, { force: true });
}

function saveQuietly<T>(file: string, bytes: T, write: (file: string, bytes: T) => void): void {
  try {
    write(file, bytes);
  } catch {
    // A cache we cannot write only costs time on the next start.
  }
}
