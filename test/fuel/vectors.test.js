// Golden fuel vectors: wasmtime's reference vectors and hand-computed ones, each reported as file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { parseVectors, runVector } from './golden.js';

const dir = path.join(ROOT, 'test/fixtures/fuel');

for (const [file, min] of [['wasmtime.wast', 35], ['vectors.wast', 30]]) {
  test(`fuel vectors: ${file}`, async () => {
    const vectors = parseVectors(path.join(dir, file));
    assert.ok(vectors.length >= min, `${file} has ${vectors.length} vectors, expected at least ${min}`);
    const failures = [];
    for (const v of vectors) {
      const problem = await runVector(v);
      if (problem) failures.push(problem);
    }
    assert.deepEqual(failures, [], `fuel mismatches:\n${failures.join('\n')}`);
  });
}
