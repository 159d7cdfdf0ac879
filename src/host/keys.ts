/**
 * Keys as guests send them: raw bytes. A valid key is 1–512 bytes of UTF-8 without NUL; we keep
 * it as text so `bext plugin storage` and the sqlite3 shell can show it, and decoding is exact
 * (fatal on bad bytes, a leading BOM kept) so the bytes a guest reads back are the bytes it wrote.
 */
export const MAX_KEY_BYTES = 512;

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The key as a string, or null when it breaks the rules above (→ ABI invalid argument). */
export function decodeKey(bytes: Uint8Array): string | null {
  if (bytes.length < 1 || bytes.length > MAX_KEY_BYTES) return null;
  if (bytes.includes(0)) return null;
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** Why a key is invalid, for people (CLI, logs). Null when valid. */
export function keyProblem(key: string): string | null {
  const n = Buffer.byteLength(key, 'utf8');
  if (n < 1) return 'a key must not be empty';
  if (n > MAX_KEY_BYTES) return `a key must be at most ${MAX_KEY_BYTES} bytes of UTF-8 (this one is ${n})`;
  if (key.includes('\0')) return 'a key must not contain NUL';
  return null;
}

/** A zero-copy Buffer view of a Uint8Array (better-sqlite3 binds Buffers as BLOBs). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
