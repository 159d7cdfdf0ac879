// Spec-style command files for tail calls and exception handling (test/fixtures/fuel/spec/), run
// uninstrumented and in every form of the rewrite: same outcomes, expected results, equal fuel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { runWast } from './wast.js';

const FEATURES = { exceptions: true, tail_call: true };

for (const [file, min] of [['return_call.wast', 30], ['return_call_indirect.wast', 20], ['exceptions.wast', 55]]) {
  test(`spec-style commands: ${file}`, async () => {
    const { commands, failures } = await runWast(path.join(ROOT, 'test/fixtures/fuel/spec', file), FEATURES);
    assert.ok(commands >= min, `${file}: only ${commands} commands`);
    assert.deepEqual(failures, [], failures.join('\n'));
  });
}
