// What a test file creates that can outlive a test: temp folders and child processes. Both go
// when the file's process exits (test/run.js runs files with --test-force-exit, so it does exit
// after the last test), also when a set-up step threw before a test could clean up itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dirs = new Set();
const children = new Set();

/** A fresh folder in the OS temp dir, removed when this process exits. */
export function tempDir(prefix = 'bext-test-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Kills `child` when this process exits, unless it has exited by then. Returns `child`. */
export function ownChild(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function cleanUp() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

process.once('exit', cleanUp);
// node --test stops a file that outlives --test-timeout with SIGTERM, which skips 'exit'.
process.once('SIGTERM', () => {
  cleanUp();
  process.exit(143);
});
