// Shared by the benches: a server process started and stopped (serve, http, noisy), a free
// loopback port, one GET / as a status code, a process's CPU time from /proc, a copy of the
// example project, and interleaved rounds (startup, cli-start, plugin-memory).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts `node ...args` in `cwd` and resolves, once it prints its `Local:` URL, to
 * `{ child, url, stderr }`: stderr() is what it wrote there so far, unless `onStderr` takes each
 * chunk instead (a server that logs much). Rejects with its output if it exits first.
 */
export function startServer(args, { cwd, env = {}, onStderr } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let url = null;
    child.stdout.on('data', (d) => {
      if (url !== null) return;
      out += d;
      const m = /Local:\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        url = m[1];
        resolve({ child, url, stderr: () => err });
      }
    });
    child.stderr.on('data', onStderr ?? ((d) => (err += d)));
    child.on('exit', (code) => reject(new Error(`server exited ${code}\n${out}\n${err}`)));
  });
}

/** Stops a server from startServer: SIGTERM, then SIGKILL if it has not exited within 10 s. */
export async function stopServer(child) {
  child.removeAllListeners('exit');
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** GET / on 127.0.0.1:port: the status code, 0 if nothing answered. */
export function getStatus(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

/**
 * CPU time (ms, all threads) the process has used so far, from /proc (Linux; null elsewhere). On a
 * shared machine wall times swing with the load; CPU time shows the work itself.
 */
export function cpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 per second on Linux).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * Copies plugins-example (site, plugins without build output, config as `configName`) into a new
 * temp folder beside a `no-plugins.toml`; returns the folder (the caller removes it).
 */
export function copyExampleProject(prefix, configName) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const example = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'plugins-example');
  fs.cpSync(path.join(example, 'public'), path.join(dir, 'public'), { recursive: true });
  fs.cpSync(path.join(example, 'plugins'), path.join(dir, 'plugins'), { recursive: true, filter: (f) => !f.includes(`${path.sep}target`) });
  fs.copyFileSync(path.join(example, 'bext.config.toml'), path.join(dir, configName));
  fs.writeFileSync(path.join(dir, 'no-plugins.toml'), '[server]\nroot = "./public"\n');
  return dir;
}

/**
 * Runs `measure(name)` once per case to warm up (caches, state.db, the OS file cache), then
 * `rounds` times per case, rounds interleaved and each round's order rotated so that no case
 * always runs right after another; `record(name, result)` gets every measured result.
 */
export async function interleavedRounds(names, rounds, measure, record) {
  for (const name of names) await measure(name);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      record(name, await measure(name));
    }
  }
}
