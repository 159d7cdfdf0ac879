// Differential: seeded random modules must behave identically before and after instrumentation
// (results, traps, imported-call logs, memory hash), with a huge budget. `npm test` compares 60;
// `npm run test:fuzz` (run by CI) compares 200 — BEXT_FUZZ_COUNT sets the number — and half as
// many again generated with tail calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { instrument } from '../../dist/fuel/index.js';
import { fuzzModule, exportedFunctions, argsFor, thinExports, TAIL_CALL_FEATURES } from './fuzz.js';
import { ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

const COUNT = Number(process.env.BEXT_FUZZ_COUNT ?? 60);
const FIRST_SEED = Number(process.env.BEXT_FUZZ_SEED ?? 1);
const HUGE = 1n << 60n;

function describe(v) {
  if (Array.isArray(v)) return `[${v.map(describe).join(',')}]`;
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'number' && Object.is(v, -0)) return '-0';
  return String(v);
}

/** Runs every export once, in order; returns a transcript of everything observable. */
async function transcript(bytes, calls, { metered }) {
  const log = [];
  const logger = (kind) => (...args) => log.push(`${kind}(${args.map(describe).join(',')})`);
  const imports = {
    'fuzzing-support': {
      'log-i32': logger('i32'), 'log-i64': logger('i64'), 'log-f32': logger('f32'), 'log-f64': logger('f64'),
      'log-v128': logger('v128'), 'log-funcref': logger('funcref'), 'log-externref': logger('externref'),
      'log-anyref': logger('anyref'),
      'call-export': () => {}, 'call-export-catch': () => 0,
      // binaryen's own harness (fuzz_shell.js) answers a synchronous sleep with its id.
      sleep: (_ms, id) => id,
    },
    env: {},
  };
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiate(bytes, imports));
  } catch (err) {
    return [`instantiate: ${err.constructor.name}: ${err.message}`];
  }
  const out = [];
  for (const [k, { name, params }] of calls.entries()) {
    if (metered) instance.exports.bext_fuel.value = HUGE;
    instance.exports.hangLimitInitializer?.();
    let result;
    try {
      result = `ok ${describe(instance.exports[name](...argsFor(params, k)))}`;
    } catch (err) {
      result = `${err.constructor.name}: ${err.message}`;
    }
    out.push(`${name}: ${result} | ${log.splice(0).join(' ')}`);
  }
  const mem = instance.exports.memory;
  if (mem) out.push(`memory ${createHash('sha256').update(new Uint8Array(mem.buffer)).digest('hex')}`);
  return out;
}

/** The first differing line between a module and its instrumented copy, or null. */
async function difference(original) {
  const exported = exportedFunctions(original);
  const metered = await instrument(original, { initialFuel: HUGE });
  const a = await transcript(original, exported, { metered: false });
  const b = await transcript(metered, exported, { metered: true });
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  const i = a.findIndex((line, j) => line !== b[j]);
  return `original:     ${a[i]}\n  instrumented: ${b[i]}`;
}

function generatorSize(seed) {
  return 1000 + (seed % 7) * 500;
}

/** Every other module keeps only half its function exports (more internal functions). */
async function moduleFor(dir, seed, size = generatorSize(seed), extra = []) {
  const generated = await fuzzModule(dir, seed, size, extra);
  return seed % 2 === 0 ? thinExports(generated) : generated;
}

/**
 * Shrinks a failing seed by asking binaryen's generator for ever smaller modules from the same
 * seed while the difference persists, and keeps the smallest in tmp/fuzz-failures/ (ignored by git).
 * (binaryen's npm wasm-reduce cannot run its test command under Node: it has no way to spawn one.)
 */
async function shrink(dir, seed, extra) {
  let smallest = null;
  for (let size = generatorSize(seed) >> 1; size >= 16; size >>= 1) {
    const original = await moduleFor(dir, seed, size, extra);
    if (!WebAssembly.validate(original) || !(await difference(original))) break;
    smallest = { size, original };
  }
  if (!smallest) return `seed ${seed}: no smaller input shows it`;
  const keep = path.join(ROOT, 'tmp', 'fuzz-failures');
  mkdirSync(keep, { recursive: true });
  const file = path.join(keep, `seed-${seed}-size-${smallest.size}.wasm`);
  writeFileSync(file, smallest.original);
  return `seed ${seed} shrunk to a ${smallest.original.length}-byte module: ${file}`;
}

/** Compares `count` valid random modules (binaryen flags `extra` added) before and after metering. */
async function compareRandomModules(count, extra) {
  const dir = tempDir('bext-fuzz-');
  const failures = [];
  let calls = 0;
  let tested = 0;
  let skipped = 0;
  try {
    const workers = Math.max(2, availableParallelism());
    let next = FIRST_SEED;
    const worker = async () => {
      // A module V8 rejects (should the generator emit one) is skipped, and more seeds are
      // drawn until COUNT valid modules have been compared.
      while (tested < count && next < FIRST_SEED + count * 3) {
        const seed = next++;
        const original = await moduleFor(dir, seed, generatorSize(seed), extra);
        if (!WebAssembly.validate(original)) {
          skipped++;
          continue;
        }
        tested++;
        calls += exportedFunctions(original).length;
        const diff = await difference(original);
        if (diff) failures.push({ seed, text: `seed ${seed}: first difference\n  ${diff}` });
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    if (failures.length) failures[0].text += `\n  ${await shrink(dir, failures[0].seed, extra)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(tested >= count, `only ${tested} valid modules (${skipped} skipped)`);
  assert.ok(calls >= count, `only ${calls} export calls made`);
  assert.deepEqual(failures.map((f) => f.seed), [], failures.slice(0, 5).map((f) => f.text).join('\n'));
}

test(`differential: ${COUNT} random modules behave the same instrumented`, { timeout: 600_000 }, async () => {
  await compareRandomModules(COUNT, []);
});

// Fewer: binaryen puts a tail call in about one module in eight.
test(`differential: ${Math.ceil(COUNT / 2)} random modules with tail calls behave the same instrumented`, { timeout: 600_000 }, async () => {
  await compareRandomModules(Math.ceil(COUNT / 2), TAIL_CALL_FEATURES);
});
