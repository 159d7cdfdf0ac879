// A WAT guest whose on_server_start makes a list of http_fetch calls and logs each response JSON,
// and a project folder that runs it through the real CLI (`bext plugin run` / `bext dev`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/cleanup.js';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { bextSpawn } from '../helpers/cli.js';

const esc = (s) => [...Buffer.from(s)].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');

/** WAT for a guest that fetches each request JSON in turn and logs the response at info. */
export function fetcherWat(requests) {
  let offset = 64;
  const data = [];
  const calls = [];
  for (const r of requests) {
    const json = JSON.stringify(r);
    const len = Buffer.byteLength(json);
    data.push(`(data (i32.const ${offset}) "${esc(json)}")`);
    calls.push(`(local.set $r (call $fetch (i32.const ${offset}) (i32.const ${len})))
    (if (i64.ge_s (local.get $r) (i64.const 0))
      (then (call $log (i32.const 16) (i32.const 4)
        (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))))`);
    offset += len + 8;
  }
  return `(module
  (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (import "bext" "log" (func $log (param i32 i32 i32 i32)))
  (memory (export "memory") 2 2000)
  (global $heap (mut i32) (i32.const ${Math.ceil((offset + 64) / 16) * 16}))
  (data (i32.const 16) "info")
  ${data.join('\n  ')}
  (func (export "bext_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func (export "on_server_start") (param i32 i32)
    (local $r i64)
    ${calls.join('\n    ')}))`;
}

/** A temp project with plugin "fetcher" (the guest above) and the given permissions TOML lines. */
export function fetcherProject(requests, permissionLines, extra = '') {
  const dir = tempDir('bext-fetch-');
  mkdirSync(path.join(dir, 'plugins'));
  mkdirSync(path.join(dir, 'public'));
  writeFileSync(path.join(dir, 'public', 'index.html'), 'hi');
  writeFileSync(path.join(dir, 'plugins', 'fetcher.wasm'), wat(fetcherWat(requests)));
  writeFileSync(
    path.join(dir, 'bext.config.toml'),
    `[server]\nroot = "./public"\n${extra}\n[plugins.fetcher]\npath = "./plugins/fetcher.wasm"\n` +
      `[plugins.fetcher.permissions]\n${permissionLines.join('\n')}\n`,
  );
  return dir;
}

/**
 * `bext plugin run fetcher on_server_start --json` in `dir`:
 * { code, ms, exitLagMs (from the result on stdout to the exit), result, responses, stdout, stderr }.
 */
export async function runFetcher(dir, env = {}) {
  const t0 = Date.now();
  const child = bextSpawn(['plugin', 'run', 'fetcher', 'on_server_start', '--json', '-c', path.join(dir, 'bext.config.toml')], {
    cwd: dir,
    env: { BEXT_LOG: 'silent', ...env },
  });
  let stdout = '';
  let stderr = '';
  let printedAt = t0;
  child.stdout.on('data', (d) => {
    stdout += d;
    printedAt = Date.now();
  });
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  const exitedAt = Date.now();
  // 'exit' can come before the last output has been read.
  for (const stream of [child.stdout, child.stderr]) await new Promise((resolve) => (stream.readableEnded ? resolve() : stream.on('end', resolve)));
  const r = { code, stdout, stderr };
  const ms = exitedAt - t0;
  const exitLagMs = exitedAt - printedAt;
  let result = null;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    // Left null: the assertion that follows shows stdout and stderr.
  }
  const responses = (result?.logs ?? []).filter((l) => l.level === 'info').map((l) => JSON.parse(l.msg));
  return { code: r.code, ms, exitLagMs, result, responses, stdout: r.stdout, stderr: r.stderr };
}
