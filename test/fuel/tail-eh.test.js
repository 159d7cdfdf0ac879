// Tail calls and exception handling: the hand-computed vectors in tail-eh.wast hold in every
// form of the rewrite, at every budget from 0 to past their cost, and give what the uninstrumented
// module gives; and a guest catch_all never catches bext's out-of-fuel trap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { instrument } from '../../dist/fuel/index.js';
import { parseVectors, runVector, vectorImports } from './golden.js';
import { call } from './harness.js';

const FEATURES = { exceptions: true, tail_call: true };
const assemble = (source) => wat(source, { features: FEATURES });
const vectors = parseVectors(path.join(ROOT, 'test/fixtures/fuel/tail-eh.wast'));

// The normal build, the reference forms tests compare placement against, and the profiling build.
const VARIANTS = [
  ['normal', {}],
  ['one charge per segment', { moveCharges: false }],
  ['fuel through the global only', { threadFuel: false }],
  ['profiling build', { profile: true }],
];

/** What a call ended in, comparable across the plain and the metered module. */
function outcome(fn) {
  try {
    const v = fn();
    return `ok ${Array.isArray(v) ? v.join(' ') : String(v)}`;
  } catch (err) {
    return err instanceof WebAssembly.Exception ? 'exception' : `trap ${err.message}`;
  }
}

for (const [label, options] of VARIANTS) {
  test(`tail-call and exception vectors (${label}): exact fuel and results`, async () => {
    assert.ok(vectors.length >= 25, `tail-eh.wast has ${vectors.length} vectors`);
    const failures = [];
    for (const v of vectors) {
      const problem = await runVector(v, assemble, options);
      if (problem) failures.push(problem);
    }
    assert.deepEqual(failures, [], failures.join('\n'));
  });
}

test('every budget from 0 to past the cost: out of fuel exactly at the first check it fails, else the plain result', async () => {
  const failures = [];
  let runs = 0;
  for (const v of vectors.filter((x) => x.checks)) {
    const bytes = assemble(v.module);
    const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), vectorImports());
    const expected = outcome(() => plain.exports[v.invoke.name](...v.invoke.args));
    for (const [label, options] of VARIANTS) {
      const { instance } = await WebAssembly.instantiate(await instrument(bytes, options), vectorImports());
      for (let budget = 0; budget <= v.expected + 2; budget++) {
        runs++;
        const r = call(instance, v.invoke.name, v.invoke.args, budget);
        const failsAt = v.checks.find((c) => budget - c <= 0);
        const got = r.outOfFuel ? 'out of fuel' : outcome(() => { if (r.error) throw r.error; return r.value; });
        const want = failsAt !== undefined ? 'out of fuel' : expected;
        const wantUsed = failsAt !== undefined ? budget : Math.min(budget, v.expected);
        if (got !== want || r.used !== wantUsed) {
          failures.push(`${v.where} (${label}) budget ${budget}: expected ${want} using ${wantUsed}, got ${got} using ${r.used}`);
        }
      }
    }
  }
  assert.ok(runs > 1000, `only ${runs} runs`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} mismatches`);
});
