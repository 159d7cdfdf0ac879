/**
 * On-disk cache of instrumented modules: `.bext/cache/<sha256(input)>-<version>[-f<fuel>][-m<pages>][-prof].wasm`,
 * and beside each its offset map (`….offsets`, see offset-map.ts). Each file ends with a small custom section holding the sha256 of the bytes before it, so a
 * corrupt or truncated file is noticed (and rebuilt) without running any wasm tooling.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Bumped whenever instrumentation output changes, so stale cache files are never used. */
export const INSTRUMENTER_VERSION = 'fuel13';

const TRAILER_NAME = 'bext.cache';
// id (1) + size (1) + name length (1) + name (10) + sha256 (32)
const TRAILER_SIZE = 3 + TRAILER_NAME.length + 32;

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Every instrumentation option that changes the output is in the name, so none reuses another's
 * file. The profiling build is its own artefact (`-prof`); a normal build's name has no variant.
 */
export function cacheFileName(input: Uint8Array, initialFuel: bigint, maxMemoryPages?: number, profile = false): string {
  const fuel = initialFuel === 0n ? '' : `-f${initialFuel}`;
  const memory = maxMemoryPages === undefined ? '' : `-m${maxMemoryPages}`;
  const variant = profile ? '-prof' : '';
  return `${sha256(input).toString('hex')}-${INSTRUMENTER_VERSION}${fuel}${memory}${variant}.wasm`;
}

/** The side file holding a cached module's offset map (see offset-map.ts). */
export function offsetsFileName(cacheName: string): string {
  return cacheName.replace(/\.wasm$/, '.offsets');
}

function trailer(body: Uint8Array): Uint8Array {
  const t = new Uint8Array(TRAILER_SIZE);
  t[0] = 0;
  t[1] = TRAILER_SIZE - 2;
  t[2] = TRAILER_NAME.length;
  t.set(Buffer.from(TRAILER_NAME, 'latin1'), 3);
  t.set(sha256(body), 3 + TRAILER_NAME.length);
  return t;
}

/** The cached module, or undefined when absent, truncated or corrupt. */
export function readCached(file: string): Uint8Array | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length < 8 + TRAILER_SIZE) return undefined;
  const bodyLen = data.length - TRAILER_SIZE;
  const body = data.subarray(0, bodyLen);
  const expected = trailer(body);
  if (!Buffer.from(expected).equals(data.subarray(bodyLen))) return undefined;
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}

/** Writes atomically (temp file + rename) so readers never see a half-written module. */
export function writeCached(file: string, body: Uint8Array): void {
  // Written as two pieces: joining them would copy the whole module once more.
  writeAtomically(file, [body, trailer(body)]);
}

/**
 * An offset map file. No checksum: it is only read after a trap, its decoder checks its magic
 * and exact length, and hashing megabytes would cost the first trap more than reading them.
 */
export function writeOffsets(file: string, pieces: readonly Uint8Array[]): void {
  writeAtomically(file, pieces);
}

export function readOffsets(file: string): Uint8Array | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, pieces: readonly Uint8Array[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (const p of pieces) for (let at = 0; at < p.length; ) at += writeSync(fd, p, at, p.length - at);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
