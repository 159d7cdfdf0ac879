// Builds real .wasm from WAT text with wabt's wat2wasm (installed by .ci/run).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const FEATURES = ['--enable-multi-value', '--enable-bulk-memory', '--enable-reference-types', '--enable-simd', '--enable-sign-extension', '--enable-saturating-float-to-int', '--enable-mutable-globals'];

/** WAT source → wasm bytes (Buffer). Throws with wat2wasm's message on a syntax error. */
export function wat(source, { debugNames = true } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-wat-'));
  try {
    const src = path.join(dir, 'm.wat');
    const out = path.join(dir, 'm.wasm');
    writeFileSync(src, source);
    const args = [src, '-o', out];
    if (debugNames) args.push('--debug-names');
    // Older wabt builds reject flags for features they enable by default; retry without them.
    try {
      execFileSync('wat2wasm', [...args, ...FEATURES], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      execFileSync('wat2wasm', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes WAT-built wasm to a file in `dir` and returns its path. */
export function watFile(dir, name, source) {
  const p = path.join(dir, name);
  writeFileSync(p, wat(source));
  return p;
}
