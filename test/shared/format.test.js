// thousands() groups digits itself (toLocaleString would initialise ICU on every bext start);
// its text must stay exactly what toLocaleString('en-US') gives, which this test still uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { thousands } from '../../dist/format.js';

const numbers = [
  0, -0, 1, -1, 7, 12, 999, 1000, -1000, 1234, 99_999, 100_000, 999_999, 1_000_000, -1_234_567, 12_345_678,
  0.4, 0.5, -0.4, -0.5, -0.6, 1234.5, 999.5, -999.5, 2 ** 31, -(2 ** 31), 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER,
  1e20, 1e21, 1.5e21, -1.25e22, 123456789e20, 1.5e300, Number.MAX_VALUE, -Number.MAX_VALUE,
  NaN, Infinity, -Infinity,
];

test('thousands(number) reads like toLocaleString("en-US") of the rounded number', () => {
  for (const n of numbers) assert.equal(thousands(n), Math.round(n).toLocaleString('en-US'), `for ${n}`);
  // Pseudo-random integers and fractions of every length (a fixed LCG: the same values every run).
  let x = 12345;
  for (let i = 0; i < 2000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = (x / 2 ** 31 - 0.5) * 10 ** (i % 25);
    assert.equal(thousands(n), Math.round(n).toLocaleString('en-US'), `for ${n}`);
  }
});

test('thousands(bigint) reads like toLocaleString("en-US"), negatives and huge values included', () => {
  const bigints = [0n, 1n, -1n, 999n, 1000n, -1000n, 123456789n, -123456789n, 2n ** 64n, -(2n ** 64n), 10n ** 40n + 7n];
  for (const n of bigints) assert.equal(thousands(n), n.toLocaleString('en-US'), `for ${n}`);
});
