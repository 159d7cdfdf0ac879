// Host services throughput, each beside the same operation done directly from Node.
//   storage_set / storage_get: createWorkerServices (validation, quota transaction, triggers)
//     vs plain better-sqlite3 upsert/select on a table with the same pragmas;
//     and from a real wasm plugin (WAT loop calling the imports through the runtime).
//   http_fetch: the fetch handler (policy checks, pinned agent, size cap, JSON) vs undici.request.
//   and http_fetch from a real wasm plugin (sync bridge: the worker blocks while the main thread fetches).
//   http_fetch by host name, through a DNS server on loopback: answers with a TTL (kept) and
//   with TTL 0 (asked on every fetch), against undici to the IP.
// Run: npx tsc -p . && node bench/host.bench.js [--n 20000] [--rounds 9] [--round-n 2000] [--seconds 2] [--fetches 1000]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { wat } from '../test/helpers/wasm.js';
import { startDns } from '../test/host/dns-server.js';
import { createWorkerServices } from '../dist/host/worker-services.js';
import { createFetchHandler } from '../dist/host/fetch/index.js';
import { defaultPluginConfig, loadPlugin } from '../dist/plugins/index.js';

process.env.BEXT_LOG ??= 'warn';
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('n', 20_000);
const ROUNDS = arg('rounds', 9);
const ROUND_N = arg('round-n', 2_000);
const SECONDS = arg('seconds', 2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bext-bench-host-'));
const enc = new TextEncoder();
const value = new Uint8Array(100).fill(0x61);
const keys = Array.from({ length: N }, (_, i) => enc.encode(`key-${i}`));
const permissions = {
  allowed_urls: [], storage_quota_kb: 1024 * 1024, max_fetch_per_minute: 1e9, kv_namespaces: [], queue_names: [],
  fetch_timeout_ms: 10_000, max_response_bytes: 5 * 1024 * 1024,
};
const rows = [];

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function storageViaServices() {
  const s = createWorkerServices({ plugin: 'bench', stateDbPath: path.join(dir, 'services.db'), permissions, callMain: () => '' });
  const set = time(() => { for (const k of keys) if (s.storageSet(k, value) !== 0) throw new Error('set failed'); });
  const get = time(() => { for (const k of keys) if (typeof s.storageGet(k) === 'number') throw new Error('get failed'); });
  s.close();
  return { set: N / set, get: N / get };
}

function storageDirect() {
  const db = new Database(path.join(dir, 'direct.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
  const upsert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const select = db.prepare('SELECT value FROM kv WHERE key = ?').pluck();
  const names = keys.map((k) => Buffer.from(k).toString());
  const buf = Buffer.from(value);
  const set = time(() => { for (const k of names) upsert.run(k, buf); });
  const get = time(() => { for (const k of names) if (!select.get(k)) throw new Error('get failed'); });
  db.close();
  return { set: N / set, get: N / get };
}

// A plugin whose on_reload calls storage_set $n times with fresh 8-letter keys (derived from a
// counter that carries over between calls, so every round inserts new keys, as the direct side
// does) and a 100-byte value; cleanup reads back the keys of the last on_reload.
const plugin = (n) => `(module
  (import "bext" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "bext" "storage_get" (func $get (param i32 i32) (result i64)))
  (memory (export "memory") 2)
  (global $hp (mut i32) (i32.const 8192))
  (global $base (mut i32) (i32.const 0))
  (func (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $hp))
    (global.set $hp (i32.add (global.get $hp) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (if (i32.gt_u (global.get $hp) (i32.const 120000)) (then (global.set $hp (i32.const 8192)) (local.set $p (i32.const 8192))))
    (local.get $p))
  (func $key (param $i i32) (local $j i32)
    (loop $l
      (i32.store8 (i32.add (i32.const 16) (local.get $j))
        (i32.add (i32.const 97) (i32.and (i32.shr_u (local.get $i) (i32.mul (local.get $j) (i32.const 4))) (i32.const 15))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $j) (i32.const 8)))))
  (func (export "on_reload") (result i32) (local $i i32)
    (loop $l
      (call $key (i32.add (global.get $base) (local.get $i)))
      (if (call $set (i32.const 16) (i32.const 8) (i32.const 64) (i32.const 100)) (then (return (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${n}))))
    (global.set $base (i32.add (global.get $base) (i32.const ${n})))
    (i32.const 0))
  (func (export "cleanup") (result i32) (local $i i32)
    (loop $l
      (call $key (i32.add (i32.sub (global.get $base) (i32.const ${n})) (local.get $i)))
      (if (i64.lt_s (call $get (i32.const 16) (i32.const 8)) (i64.const 0)) (then (return (i32.const 2))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${n}))))
    (i32.const 0))
)`;

async function openStoragePlugin(n) {
  const file = path.join(dir, 'storage-bench.wasm');
  fs.writeFileSync(file, wat(plugin(n)));
  return loadPlugin({ plugin: { ...defaultPluginConfig(file), permissions }, stateDir: path.join(dir, 'plugin-state') });
}

async function hookRate(handle, hook, n) {
  const r = await handle.call({ hook });
  if (r.outcome !== 'ok') throw new Error(`plugin bench ${hook} failed: ${r.outcome} ${r.message ?? ''}`);
  return n / (r.wallUs / 1e6);
}

// The plugin's key for counter i: 8 letters a–p, lowest nibble first (so keys land all over the
// B-tree, which costs more than appending; both sides of the goal use the same keys).
const pluginKey = (i) => String.fromCharCode(...Array.from({ length: 8 }, (_, j) => 97 + ((i >>> (4 * j)) & 15)));

// The direct side of the storage_set goal: the same upsert with better-sqlite3 and nothing else.
function openDirect() {
  const db = new Database(path.join(dir, 'direct-rounds.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
  const upsert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const select = db.prepare('SELECT value FROM kv WHERE key = ?').pluck();
  const buf = Buffer.from(value);
  let next = 0;
  return {
    set(n) {
      const names = Array.from({ length: n }, () => pluginKey(next++));
      return n / time(() => { for (const k of names) upsert.run(k, buf); });
    },
    get(n) {
      const names = Array.from({ length: n }, (_, i) => pluginKey(next - n + i));
      return n / time(() => { for (const k of names) if (!select.get(k)) throw new Error('get failed'); });
    },
    close: () => db.close(),
  };
}

// Goal (issue 20): storage_set from a wasm plugin ≥ 0.8× direct better-sqlite3. Rounds alternate
// the two sides (the machine is shared and noisy); each round is ROUND_N fresh keys.
async function storageSetGoal() {
  const handle = await openStoragePlugin(ROUND_N);
  const direct = openDirect();
  const res = { wasmSet: [], directSet: [], wasmGet: [], directGet: [], ratio: [] };
  try {
    await hookRate(handle, 'on_reload', ROUND_N); // warm both
    direct.set(ROUND_N);
    for (let r = 0; r < ROUNDS; r++) {
      const first = r % 2 === 0;
      const d = first ? direct.set(ROUND_N) : 0;
      const w = await hookRate(handle, 'on_reload', ROUND_N);
      const d2 = first ? d : direct.set(ROUND_N);
      res.wasmSet.push(w);
      res.directSet.push(d2);
      res.ratio.push(w / d2);
      res.wasmGet.push(await hookRate(handle, 'cleanup', ROUND_N));
      res.directGet.push(direct.get(ROUND_N));
    }
  } finally {
    await handle.close();
    direct.close();
  }
  return res;
}

const FETCHES = arg('fetches', 1000);
// A plugin that calls http_fetch FETCHES times with the request JSON it is given.
const FETCH_PLUGIN = `(module
  (import "bext" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (memory (export "memory") 2)
  (global $hp (mut i32) (i32.const 8192))
  (func (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    ;; Wrap around past the request JSON (the first allocation, at 8192) so it is never overwritten.
    (if (i32.gt_u (i32.add (global.get $hp) (local.get $n)) (i32.const 120000)) (then (global.set $hp (i32.const 16384))))
    (local.set $p (global.get $hp))
    (global.set $hp (i32.add (global.get $hp) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func (export "on_server_start") (param $p i32) (param $n i32) (result i32) (local $i i32)
    (loop $l
      (if (i64.lt_s (call $fetch (local.get $p) (local.get $n)) (i64.const 0)) (then (return (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${FETCHES}))))
    (i32.const 0))
)`;

async function fetchFromPlugin(port) {
  const file = path.join(dir, 'fetch-bench.wasm');
  fs.writeFileSync(file, wat(FETCH_PLUGIN));
  const plugin = { ...defaultPluginConfig(file), permissions: { ...permissions, allowed_urls: [`http://127.0.0.1:${port}/*`] } };
  const handler = createFetchHandler(plugin);
  const handle = await loadPlugin({
    plugin,
    stateDir: path.join(dir, 'fetch-state'),
    onMainCall: (_name, _op, payload) => handler(payload),
  });
  try {
    const r = await handle.call({ hook: 'on_server_start', configJson: JSON.stringify({ url: `http://127.0.0.1:${port}/ping` }) });
    if (r.outcome !== 'ok') throw new Error(`fetch plugin bench failed: ${r.message}`);
    return FETCHES / (r.wallUs / 1e6);
  } finally {
    await handle.close();
    await handler.close();
  }
}

async function loop(seconds, fn) {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return n / seconds;
}

async function fetchRoundTrips(port) {
  const url = `http://127.0.0.1:${port}/ping`;
  const handler = createFetchHandler({ name: 'bench', permissions: { ...permissions, allowed_urls: [`http://127.0.0.1:${port}/*`] } });
  const req = JSON.stringify({ url, method: 'GET' });
  const agent = new Agent({ keepAliveTimeout: 4_000 });
  const direct = async () => {
    const r = await request(url, { dispatcher: agent });
    await r.body.text();
  };
  const viaHandler = async () => {
    const r = JSON.parse(await handler(req));
    if (r.status !== 200) throw new Error(r.error);
  };
  await loop(0.3, direct); // warm both
  await loop(0.3, viaHandler);
  const d = await loop(SECONDS, direct);
  const h = await loop(SECONDS, viaHandler);
  await agent.close();
  await handler.close();
  return { direct: d, handler: h, byName: { kept: await byName(port, 60), asked: await byName(port, 0) } };
}

/** Fetches per second by host name, the name answered by a DNS server on loopback with `ttl`. */
async function byName(port, ttl) {
  const dns = await startDns({ answers: { 'svc.bench.test': ['127.0.0.1'] }, ttl });
  process.env.BEXT_DNS_SERVERS = dns.server;
  const handler = createFetchHandler({
    name: 'bench',
    permissions: { ...permissions, allowed_urls: [`http://svc.bench.test:${port}/*`], allow_private_networks: true },
  });
  const req = JSON.stringify({ url: `http://svc.bench.test:${port}/ping`, method: 'GET' });
  const once = async () => {
    const r = JSON.parse(await handler(req));
    if (r.status !== 200) throw new Error(r.error);
  };
  try {
    await loop(0.3, once);
    return await loop(SECONDS, once);
  } finally {
    delete process.env.BEXT_DNS_SERVERS;
    await handler.close();
    await dns.close();
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(10);
function row(what, bext, direct) {
  rows.push([what, fmt(bext), fmt(direct), `${(bext / direct).toFixed(2)}x`]);
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const spread = (a) => `${fmt(Math.min(...a)).trim()}–${fmt(Math.max(...a)).trim()}`;

const viaServices = storageViaServices();
const direct = storageDirect();
row('storage_set /s (services vs sqlite)', viaServices.set, direct.set);
row('storage_get /s (services vs sqlite)', viaServices.get, direct.get);
const goal = await storageSetGoal();
row('storage_set /s (wasm plugin vs sqlite)', median(goal.wasmSet), median(goal.directSet));
row('storage_get /s (wasm plugin vs sqlite)', median(goal.wasmGet), median(goal.directGet));

const server = http.createServer((_req, res) => res.end('pong'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const f = await fetchRoundTrips(server.address().port);
const fp = await fetchFromPlugin(server.address().port);
server.close();
row('http_fetch round trips /s (handler vs undici)', f.handler, f.direct);
row('http_fetch round trips /s (wasm plugin vs undici)', fp, f.direct);
row('http_fetch by name, TTL 60 /s (handler vs undici)', f.byName.kept, f.direct);
row('http_fetch by name, TTL 0 /s (handler vs undici)', f.byName.asked, f.direct);

console.log(`host services, N=${N} keys (100-byte values), fetch ${SECONDS}s each, ${os.cpus().length} cpus, node ${process.version}`);
console.log(`${'operation'.padEnd(52)} ${'bext'.padStart(10)} ${'direct'.padStart(10)}  ratio`);
for (const [a, b, c, d] of rows) console.log(`${a.padEnd(52)} ${b} ${c}  ${d}`);
const ratios = goal.ratio.map((r) => r.toFixed(2)).sort();
const ratio = median(goal.ratio);
console.log(`\nstorage_set from wasm, ${ROUNDS} interleaved rounds of ${ROUND_N} fresh keys: wasm median ${fmt(median(goal.wasmSet)).trim()}/s (${spread(goal.wasmSet)}), direct ${fmt(median(goal.directSet)).trim()}/s (${spread(goal.directSet)})`);
// The goal is judged on all rounds' keys over all rounds' time, for each side, not on the median
// of per-round ratios: a round in which SQLite checkpoints its WAL takes several times as long as
// one without, and the two sides checkpoint at different intervals (bext every 4000 pages,
// better-sqlite3's default every 1000), so a round's ratio mostly says which side checkpointed in
// it (per-round ratios spread 0.55-1.48 on a 2-core VM), and their median which side
// checkpointed more often in the rounds. The totals count every checkpoint on both sides.
const total = (rates) => rates.length / rates.reduce((a, r) => a + 1 / r, 0);
const totalRatio = total(goal.wasmSet) / total(goal.directSet);
console.log(`storage_set from wasm over all rounds: wasm ${fmt(total(goal.wasmSet)).trim()}/s, direct ${fmt(total(goal.directSet)).trim()}/s; median of per-round ratios ${ratio.toFixed(2)}× (${ratios[0]}–${ratios[ratios.length - 1]})`);
console.log(`GOAL storage_set from wasm ≥ 0.80× direct better-sqlite3 (all rounds): ${totalRatio.toFixed(2)}× ${totalRatio >= 0.8 ? 'PASS' : 'MISS'}`);
fs.rmSync(dir, { recursive: true, force: true });
