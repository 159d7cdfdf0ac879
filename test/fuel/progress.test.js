// Progress for slow instrumentation: silent at first and off a terminal, then one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ttyProgress } from '../../dist/fuel/index.js';

function fakeStream(isTTY) {
  const writes = [];
  return { isTTY, writes, write: (s) => writes.push(s) };
}

test('nothing is printed before the delay or when stderr is not a terminal', () => {
  const quiet = fakeStream(true);
  const p = ttyProgress('instrumenting', quiet, 60_000);
  p(0.5);
  p(1);
  assert.deepEqual(quiet.writes, []);
  const pipe = fakeStream(false);
  const q = ttyProgress('instrumenting', pipe, 0);
  q(0.5);
  assert.deepEqual(pipe.writes, []);
});

test('after the delay, percentages are printed on one line and finished with a newline', () => {
  const tty = fakeStream(true);
  const p = ttyProgress('instrumenting big.wasm', tty, 0);
  p(0.25);
  p(0.25);
  p(1);
  assert.deepEqual(tty.writes, ['\rinstrumenting big.wasm: 25%', '\rinstrumenting big.wasm: 100%\n']);
});
