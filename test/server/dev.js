// A running `bext dev`, temp sites and raw HTTP for the dev-server tests; nothing here needs wabt
// (./helpers.js adds the WAT plugins, and loading wabt costs a test file ~0.07 s of CPU).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bextSpawn } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

/** A temp project folder with `public/` holding `files` ({relative path: content}). */
export function makeProject(files = {}) {
  const dir = tempDir('bext-dev-');
  mkdirSync(path.join(dir, 'public'), { recursive: true });
  mkdirSync(path.join(dir, 'plugins'), { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, 'public', rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

export function writeConfig(dir, toml) {
  const p = path.join(dir, 'bext.config.toml');
  writeFileSync(p, toml);
  return p;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `bext dev -c <dir>/bext.config.toml -p 0` and waits for the banner.
 * Returns { url, child, stdout(), stderr(), logs(), waitFor(pred, ms), guest(plugin), stop(signal) }.
 */
export async function startDev(dir, { args = [], env = {}, timeoutMs = 20_000 } = {}) {
  const child = bextSpawn(['dev', '-c', path.join(dir, 'bext.config.toml'), '-p', '0', ...args], {
    cwd: dir,
    env: { BEXT_PLUGIN_LOG: 'info', BEXT_LOG_FORMAT: 'json', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  // 'close', not 'exit': 'exit' can come before the last bytes of stderr have been read, and tests
  // read the shutdown lines after stop().
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));

  // Parsed once per line as it arrives: waitFor polls logs() every 25 ms, and re-parsing all of
  // stderr each time cost more CPU than the server under test on chatty runs.
  const parsed = [];
  let parsedUpTo = 0;
  const logs = () => {
    const end = err.lastIndexOf('\n') + 1;
    if (end > parsedUpTo) {
      for (const l of err.slice(parsedUpTo, end).split('\n')) {
        if (!l.startsWith('{')) continue;
        try {
          parsed.push(JSON.parse(l));
        } catch {
          // not a JSON line after all
        }
      }
      parsedUpTo = end;
    }
    // Whole lines only; a last line without its newline yet is read once it has one (or the
    // server has exited, when nothing more will come).
    if (exit && end < err.length) {
      const rest = err.slice(end);
      if (rest.startsWith('{')) {
        try {
          return [...parsed, JSON.parse(rest)];
        } catch {
          // cut short
        }
      }
    }
    return parsed.slice();
  };

  const deadline = Date.now() + timeoutMs;
  let url = null;
  let exit = null;
  exited.then((e) => (exit = e));
  while (!url) {
    const m = /Local:\s+(http:\/\/\S+)/.exec(out);
    if (m) url = m[1];
    else if (exit) throw new Error(`bext dev exited (${JSON.stringify(exit)}) before it was ready\nstdout:\n${out}\nstderr:\n${err}`);
    else if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bext dev was not ready in ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`);
    } else await sleep(25);
  }

  async function waitFor(pred, ms = 30_000, what = 'condition') {
    const end = Date.now() + ms;
    for (;;) {
      const v = await pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nstderr:\n${err}`);
      await sleep(25);
    }
  }

  return {
    url,
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    logs,
    /** Messages the guest logged, in order. */
    guest: (plugin) => logs().filter((l) => l.source === 'guest' && (!plugin || l.plugin === plugin)).map((l) => l.msg),
    waitFor,
    async stop(signal = 'SIGTERM', ms = 15_000) {
      if (exit) return exit;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const e = await exited;
      clearTimeout(t);
      return e;
    },
  };
}

export { sleep };

/**
 * Sends a raw HTTP/1.1 request line (no client-side path normalisation); resolves { status, headers, body }.
 * `host` replaces the Host header (default: the base URL's host); `body` is written after the head.
 */
export async function rawRequest(baseUrl, target, { method = 'GET', headers = {}, host, body = '' } = {}) {
  const { connect } = await import('node:net');
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''));
    let data = Buffer.alloc(0);
    sock.on('data', (d) => (data = Buffer.concat([data, d])));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = data.toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const h = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers: h, body: rest.join('\r\n\r\n') });
    });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`${method} ${target} HTTP/1.1\r\nhost: ${host ?? u.host}\r\nconnection: close\r\n${extra}\r\n${body}`);
  });
}
