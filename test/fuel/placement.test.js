// Charge placement: moving charges between segments must never change what a call reports.
// Every export of seeded random modules is called with the plain one-charge-per-segment rewrite
// and with the optimised one, with a huge budget and with budgets around where it runs out; the
// outcome and the fuel left must be identical every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { instrument } from '../../dist/fuel/index.js';
import { fuzzModule, exportedFunctions, argsFor } from './fuzz.js';

const COUNT = Number(process.env.BEXT_PLACEMENT_COUNT ?? 80);
const FIRST_SEED = Number(process.env.BEXT_PLACEMENT_SEED ?? 5001);
const HUGE = 1n << 60n;

const noop = () => {};
const imports = {
  'fuzzing-support': {
    'log-i32': noop, 'log-i64': noop, 'log-f32': noop, 'log-f64': noop, 'log-v128': noop,
    'log-funcref': noop, 'log-externref': noop, 'log-anyref': noop, 'call-export': noop, 'call-export-catch': () => 0,
  },
  env: {},
};

/** Calls export `k` on a fresh instance with `budget`; returns "outcome remaining". */
async function callWith(module, name, params, k, budget) {
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, imports);
  } catch (err) {
    return `instantiate ${err.message}`;
  }
  instance.exports.bext_fuel.value = HUGE;
  instance.exports.hangLimitInitializer?.();
  instance.exports.bext_fuel.value = budget;
  let outcome;
  try {
    instance.exports[name](...argsFor(params, k));
    outcome = 'ok';
  } catch (err) {
    outcome = `${err.constructor.name}: ${err.message}`;
  }
  return `${outcome} ${instance.exports.bext_fuel.value}`;
}

test(`charge placement: ${COUNT} random modules report the same fuel with and without merged charges`, { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bext-placement-'));
  const failures = [];
  let tested = 0;
  let compared = 0;
  try {
    for (let seed = FIRST_SEED; tested < COUNT && seed < FIRST_SEED + COUNT * 3; seed++) {
      const original = await fuzzModule(dir, seed, 1000 + (seed % 5) * 700);
      if (!WebAssembly.validate(original)) continue;
      tested++;
      const plain = await WebAssembly.compile(await instrument(original, { initialFuel: HUGE, moveCharges: false }));
      const merged = await WebAssembly.compile(await instrument(original, { initialFuel: HUGE, moveCharges: true }));
      for (const [k, { name, params }] of exportedFunctions(original).entries()) {
        const full = await callWith(plain, name, params, k, HUGE);
        const used = HUGE - BigInt(full.slice(full.lastIndexOf(' ') + 1));
        const budgets = new Set([HUGE, used, used - 1n, used + 1n, used / 2n, used / 3n, (used * 7n) / 8n, 3n, 1n, 0n]);
        for (const budget of budgets) {
          if (budget < 0n) continue;
          const a = budget === HUGE ? full : await callWith(plain, name, params, k, budget);
          const b = await callWith(merged, name, params, k, budget);
          compared++;
          if (a !== b) failures.push(`seed ${seed} ${name} budget ${budget}:\n  plain:  ${a}\n  merged: ${b}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(tested >= COUNT, `only ${tested} valid modules`);
  assert.ok(compared >= COUNT * 5, `only ${compared} calls compared`);
  assert.deepEqual(failures, [], failures.slice(0, 5).join('\n'));
});
