// Shared by the start-up benches (startup.bench.js, cli-start.bench.js): a free loopback port,
// one GET / as a status code, and a process's CPU time from /proc.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

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
