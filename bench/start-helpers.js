// Shared by the start-up benches (startup.bench.js, cli-start.bench.js, plugin-memory.bench.js): a
// free loopback port, one GET / as a status code, a process's CPU time from /proc, a copy of the
// example project, and interleaved rounds.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
