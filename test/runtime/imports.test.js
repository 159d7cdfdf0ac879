// The "bext" imports: log, get_config, emit_metric, storage/kv/queues (real SQLite services),
// http_fetch over the sync bridge, the multi-value result form, and bounds checks on every pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOST_IMPORTS } from '../../dist/host/index.js';
import { data, load, LOG_IMPORT, mod } from './helpers.js';

const I64 = (name, params = 'i32 i32') => `(import "bext" "${name}" (func $${name} (param ${params}) (result i64)))`;
const MV = (name, params = 'i32 i32') => `(import "bext" "${name}" (func $${name} (param ${params}) (result i32 i32)))`;

// Logs the packed result of an i64 import, or returns its negative code as the hook's error code.
const LOG_PACKED = `
  (func $say_packed (param $r i64) (result i32)
    (if (i64.lt_s (local.get $r) (i64.const 0)) (then (return (i32.wrap_i64 (local.get $r)))))
    (call $log (i32.const 0) (i32.const 4) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
    (i32.const 0))`;

test('log: levels trace..error, "warning" → warn, unknown → info; bad UTF-8 is shown, not fatal', async () => {
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'bogus', 'WARNING'];
  let addr = 0;
  let segs = '';
  let calls = '';
  for (const l of levels) {
    segs += data(addr, l);
    calls += `(call $log (i32.const ${addr}) (i32.const ${l.length}) (i32.const 200) (i32.const 3))`;
    addr += 16;
  }
  const text = `${segs} ${data(200, 'msg')} (data (i32.const 220) "\\ff\\fe")
    (func (export "on_reload") ${calls} (call $log (i32.const 0) (i32.const 5) (i32.const 220) (i32.const 2)))`;
  const { handle, logs } = await load(mod(text, { imports: LOG_IMPORT }));
  try {
    assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'ok');
    const guest = logs.filter((l) => l.source === 'guest');
    assert.deepEqual(guest.map((l) => l.level), ['trace', 'debug', 'info', 'warn', 'error', 'info', 'warn', 'trace']);
    assert.ok(guest.slice(0, 7).every((l) => l.msg === 'msg'));
    assert.equal(guest[7].msg, '\ufffd\ufffd');
  } finally {
    await handle.close();
  }
});

const CONFIG = { endpoint: 'https://a.example/in', nested: { a: { b: [1, 2] } }, flag: true, 'ünï': 'ok' };

async function configCases(text) {
  const { handle, logs } = await load(text, { config: CONFIG });
  const ask = async (key) => {
    const before = logs.length;
    const r = await handle.call({ hook: 'on_request_complete', eventJson: key });
    return r.outcome === 'ok' ? logs.slice(before).map((l) => l.msg).join('') : r.message;
  };
  try {
    assert.deepEqual(JSON.parse(await ask('')), CONFIG, 'empty key = whole config');
    assert.equal(await ask('endpoint'), '"https://a.example/in"');
    assert.equal(await ask('nested.a.b'), '[1,2]');
    assert.equal(await ask('nested.a.b.1'), '2');
    assert.equal(await ask('flag'), 'true');
    assert.equal(await ask('ünï'), '"ok"');
    assert.equal(await ask('missing'), 'on_request_complete returned error code -1');
    assert.equal(await ask('nested.zz.q'), 'on_request_complete returned error code -1');
    const bad = await handle.call({ hook: 'on_reload' });
    assert.equal(bad.message, 'on_reload returned error code -5', 'key that is not UTF-8 → invalid argument');
  } finally {
    await handle.close();
  }
}

test('get_config: dotted keys, empty key, missing = -1, bad UTF-8 = -5 (packed i64 form)', async () => {
  await configCases(
    mod(
      `${data(0, 'info')} (data (i32.const 100) "\\c3\\28") ${LOG_PACKED}
      (func (export "on_request_complete") (param i32 i32) (result i32) (call $say_packed (call $get_config (local.get 0) (local.get 1))))
      (func (export "on_reload") (result i32) (call $say_packed (call $get_config (i32.const 100) (i32.const 2))))`,
      { imports: `${LOG_IMPORT} ${I64('get_config')}` },
    ),
  );
});

test('get_config: multi-value (i32, i32) form', async () => {
  await configCases(
    mod(
      `${data(0, 'info')} (data (i32.const 100) "\\c3\\28")
      (func $say (param $p i32) (param $l i32) (result i32)
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (local.get $p))))
        (call $log (i32.const 0) (i32.const 4) (local.get $p) (local.get $l)) (i32.const 0))
      (func (export "on_request_complete") (param i32 i32) (result i32) (call $say (call $get_config (local.get 0) (local.get 1))))
      (func (export "on_reload") (result i32) (call $say (call $get_config (i32.const 100) (i32.const 2))))`,
      { imports: `${LOG_IMPORT} ${MV('get_config')}` },
    ),
  );
});

test('emit_metric: object tags, [[k,v]] tags, empty tags; bad tags dropped with a warning', async () => {
  const text = mod(
    `${data(0, 'hits')} ${data(16, '{"route":"/a","n":1,"bot":false}')} ${data(64, '[["k","v"]]')} ${data(96, 'not json')} ${data(112, '{"a":{"b":1}}')}
    (func (export "on_reload")
      (call $m (i32.const 0) (i32.const 4) (f64.const 2.5) (i32.const 16) (i32.const 32))
      (call $m (i32.const 0) (i32.const 4) (f64.const 1) (i32.const 64) (i32.const 11))
      (call $m (i32.const 0) (i32.const 4) (f64.const -3) (i32.const 0) (i32.const 0))
      (call $m (i32.const 0) (i32.const 4) (f64.const 9) (i32.const 96) (i32.const 8))
      (call $m (i32.const 0) (i32.const 4) (f64.const 9) (i32.const 112) (i32.const 13))
      (call $m (i32.const 0) (i32.const 0) (f64.const 9) (i32.const 0) (i32.const 0)))`,
    { imports: '(import "bext" "emit_metric" (func $m (param i32 i32 f64 i32 i32)))' },
  );
  const { handle, metrics, logs } = await load(text);
  try {
    assert.equal((await handle.call({ hook: 'on_reload' })).outcome, 'ok');
    assert.deepEqual(metrics, [
      { plugin: 'p', name: 'hits', value: 2.5, tags: { route: '/a', n: '1', bot: 'false' } },
      { plugin: 'p', name: 'hits', value: 1, tags: { k: 'v' } },
      { plugin: 'p', name: 'hits', value: -3, tags: {} },
    ]);
    // One warning per cause: the second bad-tags sample is counted, and the count closes the call.
    const warns = logs.filter((l) => l.level === 'warn').map((l) => l.msg);
    assert.equal(warns.length, 3);
    assert.match(warns[0], /tags for "hits" are not a JSON object or \[\[key, value\], \.\.\.\]; sample dropped$/);
    assert.match(warns[1], /metric name is empty/);
    assert.match(warns[2], /tags for "hits" are not a JSON object .*; sample dropped \(×1 more\)$/);
  } finally {
    await handle.close();
  }
});

test('storage, kv and queues reach the real services (packed and multi-value reads)', async () => {
  const text = mod(
    `${data(0, 'info')} ${data(16, 'key1')} ${data(32, 'value-1')} ${data(48, 'shared')} ${data(64, 'other')} ${data(80, 'events')} ${data(96, 'msg-1')}
    ${LOG_PACKED}
    (func (export "on_reload") (result i32)
      (if (i32.ne (call $storage_set (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 7)) (i32.const 0)) (then (return (i32.const 101))))
      (drop (call $say_packed (call $storage_get (i32.const 16) (i32.const 4))))
      (if (i32.ne (call $kv_set (i32.const 48) (i32.const 6) (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 7)) (i32.const 0)) (then (return (i32.const 102))))
      (drop (call $say_packed (call $kv_get (i32.const 48) (i32.const 6) (i32.const 16) (i32.const 4))))
      (if (i32.ne (call $kv_set (i32.const 64) (i32.const 5) (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 7)) (i32.const -2)) (then (return (i32.const 103))))
      (if (i32.ne (call $queue_publish (i32.const 80) (i32.const 6) (i32.const 96) (i32.const 5)) (i32.const 0)) (then (return (i32.const 104))))
      (drop (call $say_packed (call $queue_consume (i32.const 80) (i32.const 6))))
      (if (i64.ne (call $queue_consume (i32.const 80) (i32.const 6)) (i64.const -1)) (then (return (i32.const 105))))
      (if (i32.ne (call $storage_delete (i32.const 16) (i32.const 4)) (i32.const 0)) (then (return (i32.const 106))))
      (if (i32.ne (call $storage_delete (i32.const 16) (i32.const 4)) (i32.const -1)) (then (return (i32.const 107))))
      (if (i32.ne (call $kv_delete (i32.const 48) (i32.const 6) (i32.const 16) (i32.const 4)) (i32.const 0)) (then (return (i32.const 108))))
      (i32.const 0))
`,
    {
      imports: `${LOG_IMPORT} ${I64('storage_get')} ${I64('kv_get', 'i32 i32 i32 i32')} ${I64('queue_consume')}
        (import "bext" "storage_set" (func $storage_set (param i32 i32 i32 i32) (result i32)))
        (import "bext" "storage_delete" (func $storage_delete (param i32 i32) (result i32)))
        (import "bext" "kv_set" (func $kv_set (param i32 i32 i32 i32 i32 i32) (result i32)))
        (import "bext" "kv_delete" (func $kv_delete (param i32 i32 i32 i32) (result i32)))
        (import "bext" "queue_publish" (func $queue_publish (param i32 i32 i32 i32) (result i32)))`,
    },
  );
  const { handle, logs } = await load(text, { permissions: { kv_namespaces: ['shared'], queue_names: ['events'] } });
  try {
    const r = await handle.call({ hook: 'on_reload' });
    assert.equal(r.outcome, 'ok', r.message);
    assert.deepEqual(logs.filter((l) => l.source === 'guest').map((l) => l.msg), ['value-1', 'value-1', 'msg-1']);
  } finally {
    await handle.close();
  }

  // The multi-value form of storage_get (an import is declared once, so in its own module).
  const mv = mod(
    `${data(0, 'info')} ${data(16, 'key1')} ${data(32, 'value-1')}
    (func (export "on_reload") (result i32) (local $p i32) (local $l i32)
      (drop (call $storage_set (i32.const 16) (i32.const 4) (i32.const 32) (i32.const 7)))
      (call $storage_get (i32.const 16) (i32.const 4)) (local.set $l) (local.set $p)
      (call $log (i32.const 0) (i32.const 4) (local.get $p) (local.get $l))
      (call $storage_get (i32.const 32) (i32.const 7)) (local.set $l) (local.set $p)
      (local.get $p))`,
    { imports: `${LOG_IMPORT} ${MV('storage_get')} (import "bext" "storage_set" (func $storage_set (param i32 i32 i32 i32) (result i32)))` },
  );
  const m = await load(mv);
  try {
    const r = await m.handle.call({ hook: 'on_reload' });
    assert.equal(r.message, 'on_reload returned error code -1', 'missing key → (-1, 0) in multi-value form');
    assert.equal(m.logs.filter((l) => l.source === 'guest')[0].msg, 'value-1');
  } finally {
    await m.handle.close();
  }
});

test('http_fetch: goes to onMainCall; default answer; invalid JSON request = -5', async () => {
  const text = mod(
    `${data(0, 'info')} ${data(16, '{"url":"https://a.example/x","method":"POST"}')} ${data(80, '{nope')}
    ${LOG_PACKED}
    (func (export "on_reload") (result i32) (call $say_packed (call $http_fetch (i32.const 16) (i32.const 45))))
    (func (export "cleanup") (result i32) (call $say_packed (call $http_fetch (i32.const 80) (i32.const 5))))`,
    { imports: `${LOG_IMPORT} ${I64('http_fetch')}` },
  );
  const seen = [];
  const a = await load(text, {}, {
    onMainCall: async (plugin, op, payload) => {
      seen.push({ plugin, op, payload });
      await new Promise((r) => setTimeout(r, 20));
      return JSON.stringify({ status: 200, headers: [], body: 'pong'.repeat(50_000) });
    },
  });
  try {
    assert.equal((await a.handle.call({ hook: 'on_reload' })).outcome, 'ok');
    assert.deepEqual(seen, [{ plugin: 'p', op: 'http_fetch', payload: '{"url":"https://a.example/x","method":"POST"}' }]);
    const got = JSON.parse(a.logs.filter((l) => l.source === 'guest').at(-1).msg);
    assert.equal(got.status, 200);
    assert.equal(got.body.length, 200_000, 'large answers cross the bridge whole');
    assert.equal((await a.handle.call({ hook: 'cleanup' })).message, 'cleanup returned error code -5');
    assert.equal(seen.length, 1, 'an invalid request never reaches the main thread');
  } finally {
    await a.handle.close();
  }
  const b = await load(text);
  try {
    await b.handle.call({ hook: 'on_reload' });
    assert.deepEqual(JSON.parse(b.logs.filter((l) => l.source === 'guest').at(-1).msg), { status: 0, error: 'network not available' });
  } finally {
    await b.handle.close();
  }
});

// Bounds: every pointer/length pair of every import, with a range past the end, a length near
// 2^32 and a ptr+len that would wrap in 32 bits. Each traps that call only. One module imports
// them all and makes each (import, range, case) call from a function of its own, picked by
// on_request_complete from the length of its event (one instance and worker, not one per range).
const CASES = [
  { ptr: 65534, len: 10, range: '[65534, 65544)' },
  { ptr: 0, len: -1, range: '[0, 4294967295)' },
  { ptr: -16, len: 32, range: '[4294967280, 4294967312)' },
];

/** The call of `spec`'s import with its `argIndex`th range set to case `c`, every other range 0. */
function boundsCall(spec, argIndex, c) {
  const args = [];
  let range = 0;
  for (let p = 0; p < spec.params.length; p++) {
    if (spec.params[p] === 'f64') {
      args.push('(f64.const 1)');
      continue;
    }
    const isLen = args.filter((a) => !a.startsWith('(f64')).length % 2 === 1;
    if (range === argIndex) args.push(`(i32.const ${isLen ? c.len : c.ptr})`);
    else args.push('(i32.const 0)');
    if (isLen) range++;
  }
  assert.equal(range, spec.ranges.length);
  return `(call $imp_${spec.name} ${args.join(' ')}) ${spec.results.length ? 'drop' : ''}`;
}

function boundsModule() {
  const cases = [];
  let imports = '';
  let funcs = '';
  for (const spec of HOST_IMPORTS) {
    const resultType = spec.results.length ? `(result ${spec.results.join(' ')})` : '';
    imports += `(import "bext" "${spec.name}" (func $imp_${spec.name} (param ${spec.params.join(' ')}) ${resultType}))`;
    for (let r = 0; r < spec.ranges.length; r++) {
      for (const [i, c] of CASES.entries()) {
        funcs += `(func $case${cases.length} ${boundsCall(spec, r, c)})`;
        cases.push({ spec, r, i });
      }
    }
  }
  const table = `(type $case (func)) (table ${cases.length} funcref) (elem (i32.const 0) ${cases.map((_, k) => `$case${k}`).join(' ')})`;
  // The event is a JSON string of k characters: its length, k + 2, picks case k.
  const hook = `(func (export "on_request_complete") (param i32 i32) (call_indirect (type $case) (i32.sub (local.get 1) (i32.const 2))))
    (func (export "on_reload"))`;
  return { text: mod(`${table} ${funcs} ${hook}`, { imports }), cases };
}

test('every pointer-taking import traps on out-of-bounds ranges, and the instance survives', async () => {
  const { text, cases } = boundsModule();
  const { handle } = await load(text);
  let checked = 0;
  try {
    for (const [k, { spec, r, i }] of cases.entries()) {
      const what = `${spec.name} ${spec.ranges[r]} case ${i}`;
      const res = await handle.call({ hook: 'on_request_complete', eventJson: JSON.stringify('x'.repeat(k)) });
      assert.equal(res.outcome, 'trap', what);
      assert.equal(res.trapKind, 'bad pointer', what);
      assert.equal(res.message, `bext.${spec.name}: ${spec.ranges[r]} range ${CASES[i].range} outside memory of 65536 bytes`);
      assert.equal(res.stack[0], `bext.${spec.name} (host import)`);
      assert.equal(res.stack.at(-1)?.split(' ')[0], 'on_request_complete', `the hook is the outermost frame: ${res.stack}`);
      const ok = await handle.call({ hook: 'on_reload' });
      assert.equal(ok.outcome, 'ok', `the instance is kept after a trap (${what})`);
      checked++;
    }
  } finally {
    await handle.close();
  }
  assert.equal(checked, 3 * HOST_IMPORTS.reduce((n, s) => n + s.ranges.length, 0));
});
