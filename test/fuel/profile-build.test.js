// The profiling build (docs/fuel.md, "Profiling builds"): normal builds stay byte for byte what
// they were before the variant existed, the profiling build meters exactly the same fuel as the
// normal one, it is cached as its own artefact, and its reports are off until the host turns them on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { attachProfileHooks, instrument, instrumentCached, PROFILE_FLAG, PROFILE_TABLE } from '../../dist/fuel/index.js';

const FIXTURE = wat(readFileSync(path.join(ROOT, 'test/fixtures/runtime/profile.wat'), 'utf8'));
const h = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

// sha256 (first 16 hex digits) of the normal build of each module, with default options and with
// { initialFuel: 500_000_000n, maxMemoryPages: 1024 }, recorded from the instrumenter as it was
// before the profiling variant was added (commit dce9265). Any change to a normal build shows here;
// one that is meant must bump INSTRUMENTER_VERSION and re-record these. (The two C examples were
// re-recorded when they were rebuilt against the bext.h whose bext_error() never returns 0: new
// input, same instrumenter. Those with a self-recursive internal function moved when such
// functions got twins, src/fuel/twins.ts, INSTRUMENTER_VERSION fuel8, and came back to these
// hashes when twins became an option, off by default, in fuel9. All moved in fuel10, when
// call-free loops were checked on entry and at their back edges instead of at their header,
// entry and loop-header checks sank into the arms of the first `if` after them, and charges
// into `if` arms. Three examples moved in fuel11, when a loop's sunk check, and then the entry's,
// was folded into the condition of the `if` it sank into. Six moved in fuel12, when the code after
// a branched-to block with a check inside came to be charged in the segments leading to it, and
// so did the WAT fixture's. Four moved in fuel13, when the refunded exit edges of a loop came to
// pay the code after it.)
const GOLDEN = [
  ['plugins-example/plugins/cache-auditor/plugin.wasm', '11538356bb99a638', '4f0b09b9b5c1b3d9'],
  ['plugins-example/plugins/greedy/plugin.wasm', '0f1ec2b0a8c7f845', 'ea7c4e39a1991bd5'],
  ['plugins-example/plugins/my-analytics/plugin.wasm', '41d8cb9991087032', '8f6527064a4d2c7f'],
  ['plugins-example/plugins/bot-counter/plugin.wasm', 'a211ba1c0a2f1a40', '6c8c6f5b5ee8a21e'],
  ['bench/kernels/fib.wasm', '61502d9c50ce405f', '4dbdde500a618ac9'],
  ['bench/kernels/json.wasm', '1571b5817ea634ca', '55b2252ccf91c7c5'],
  ['bench/kernels/sha256.wasm', '952448fef0fc389b', '5d2ae92c272f68ec'],
  ['bench/kernels/sieve.wasm', 'f5861fc26df866a5', 'f7e738a239429b4a'],
  ['bench/kernels/matmul.wasm', '4d93dcf7b379806a', '2a7b908f9b071ada'],
];

test('normal builds are byte for byte what they were before the profiling variant existed', async () => {
  for (const [file, plain, capped] of GOLDEN) {
    const bytes = new Uint8Array(readFileSync(path.join(ROOT, file)));
    assert.equal(h(await instrument(bytes)), plain, file);
    assert.equal(h(await instrument(bytes, { profile: false })), plain, `${file} with profile: false`);
    assert.equal(h(await instrument(bytes, { initialFuel: 500_000_000n, maxMemoryPages: 1024 })), capped, `${file} capped`);
  }
  // The WAT fixture too (its input hash pins wabt's output, which the golden hash depends on).
  assert.equal(h(FIXTURE), '6bf4c707d3873b93');
  assert.equal(h(await instrument(FIXTURE)), 'b1ceeb3e70fb3443');
});

async function instantiate(bytes, opts) {
  const { instance } = await WebAssembly.instantiate(await instrument(bytes, opts), {});
  return instance;
}

function fuelOf(instance, name, args = []) {
  instance.exports.bext_fuel.value = 1n << 40n;
  let trapped = false;
  try {
    instance.exports[name](...args);
  } catch {
    trapped = true;
  }
  return { used: (1n << 40n) - instance.exports.bext_fuel.value, trapped };
}

test('the profiling build meters the same fuel as the normal build, reports on or off', async () => {
  const normal = await instantiate(FIXTURE);
  const quiet = await instantiate(FIXTURE, { profile: true });
  const loud = await instantiate(FIXTURE, { profile: true });
  let reports = 0;
  attachProfileHooks(loud.exports, { enter: () => reports++, exit: () => reports++ })(true);
  for (const [name, args] of [['on_reload', []], ['on_server_stop', []], ['on_request_complete', [0, 37]]]) {
    const want = fuelOf(normal, name, args);
    assert.deepEqual(fuelOf(quiet, name, args), want, name);
    assert.deepEqual(fuelOf(loud, name, args), want, name);
  }
  assert.ok(reports > 0);
});

test('the profiling build of real compiler output meters the same fuel (bench kernels)', async () => {
  for (const [file, arg] of [['fib.wasm', 18], ['sha256.wasm', 1], ['sieve.wasm', 5000], ['json.wasm', 1]]) {
    const bytes = new Uint8Array(readFileSync(path.join(ROOT, 'bench/kernels', file)));
    const normal = await instantiate(bytes);
    const profiled = await instantiate(bytes, { profile: true });
    let reports = 0;
    attachProfileHooks(profiled.exports, { enter: () => reports++, exit() {} })(true);
    assert.deepEqual(fuelOf(profiled, '_initialize'), fuelOf(normal, '_initialize'), `${file} _initialize`);
    const want = fuelOf(normal, 'run', [arg]);
    assert.equal(want.trapped, false);
    assert.deepEqual(fuelOf(profiled, 'run', [arg]), want, `${file} run(${arg})`);
    assert.ok(reports > 1, file);
  }
});

test('the profiling build exports its table and flag, and reports nothing until the flag is set', async () => {
  const inst = await instantiate(FIXTURE, { profile: true });
  assert.ok(inst.exports[PROFILE_TABLE] instanceof WebAssembly.Table);
  assert.equal(inst.exports[PROFILE_FLAG].value, 0);
  const seen = [];
  const on = attachProfileHooks(inst.exports, { enter: (f, fuel) => seen.push(['enter', f, fuel]), exit: (f, fuel) => seen.push(['exit', f, fuel]) });
  fuelOf(inst, 'on_reload');
  assert.equal(seen.length, 0);
  on(true);
  inst.exports.bext_fuel.value = 1000n;
  inst.exports.on_reload();
  // on_reload is function 6 (bext_alloc 0, square 1, sum_squares 2, fact 3, clamp 4, boom 5).
  assert.deepEqual(seen[0], ['enter', 6, 1000]);
  assert.deepEqual(seen.at(-1), ['exit', 6, 880]);
  assert.equal(seen.filter((e) => e[0] === 'enter').length, seen.filter((e) => e[0] === 'exit').length);
});

test('the profiling build is cached as its own artefact', async () => {
  const dir = tempDir('bext-prof-cache-');
  const normal = await instrumentCached(FIXTURE, dir);
  const profiled = await instrumentCached(FIXTURE, dir, { profile: true });
  assert.equal(normal.fromCache, false);
  assert.equal(profiled.fromCache, false);
  // Each module has its offset map beside it (`.offsets`); the modules themselves are two.
  const files = readdirSync(dir).filter((f) => f.endsWith('.wasm')).sort();
  assert.equal(files.length, 2);
  assert.ok(files.some((f) => f.endsWith('-prof.wasm')));
  assert.ok(files.some((f) => !f.includes('-prof')));
  assert.notDeepEqual(Buffer.from(profiled.bytes), Buffer.from(normal.bytes));
  assert.equal((await instrumentCached(FIXTURE, dir, { profile: true })).fromCache, true);
  assert.deepEqual(Buffer.from((await instrumentCached(FIXTURE, dir)).bytes), Buffer.from(await instrument(FIXTURE)));
});
