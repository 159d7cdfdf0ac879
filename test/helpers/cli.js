// Runs the real CLI as a subprocess, the way users do.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import path from 'node:path';
import { ownChild } from './cleanup.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'bext');

/** Runs `bext ...args` to completion. Returns { code, stdout, stderr }. */
export function bext(args, opts = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...(opts.env ?? {}) },
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeout ?? 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Starts `bext ...args` in the background; returns the child process (killed when this process exits). */
export function bextSpawn(args, opts = {}) {
  return ownChild(spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** Runs `bext ...args` without blocking this process (so an in-process server can answer it). */
export function bextAsync(args, opts = {}) {
  const child = bextSpawn(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for configs that need a fixed port). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
