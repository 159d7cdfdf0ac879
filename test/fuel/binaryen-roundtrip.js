// The figure behind docs/fuel.md "Why the instrumenter does not go through binaryen's IR": how
// many fuel vectors keep their exact fuel when the module is first read into binaryen's IR and
// written back (binaryen.readBinary(...).emitBinary(), no optimisation passes), then metered.
//   node test/fuel/binaryen-roundtrip.js
import path from 'node:path';
import binaryen from 'binaryen';
import { ROOT } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { parseVectors, runVector } from './golden.js';

// What bext accepts (docs/fuel.md), so that binaryen writes nothing Node 20 cannot run.
const F = binaryen.Features;
const FEATURES = F.MutableGlobals | F.SignExt | F.NontrappingFPToInt | F.SIMD128 | F.BulkMemory | F.Multivalue | F.ReferenceTypes;

function roundTrip(text) {
  const module = binaryen.readBinary(wat(text));
  try {
    module.setFeatures(FEATURES);
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

for (const file of ['wasmtime.wast', 'vectors.wast']) {
  const vectors = parseVectors(path.join(ROOT, 'test/fixtures/fuel', file));
  let direct = 0;
  let kept = 0;
  const changed = [];
  for (const v of vectors) {
    if (!(await runVector(v))) direct++;
    let problem;
    try {
      problem = await runVector(v, roundTrip);
    } catch (err) {
      problem = `${v.where}: ${err.message.split('\n')[0]}`;
    }
    if (problem) changed.push(problem);
    else kept++;
  }
  console.log(`${file}: ${vectors.length} vectors; exact fuel directly: ${direct}; after a binaryen round trip: ${kept}`);
  for (const c of changed) console.log(`  ${c}`);
}
