// Checks that a change to the rewriter leaves its output as it was: instruments many modules with
// this tree's dist/ and with a reference build (another checkout's dist/, e.g. main's) and counts
// the modules whose bytes and offset maps are identical, in every form of the rewrite.
//   node bench/instrument-identical.js /path/to/reference/dist [--fuzz N] [--big]
// Modules: bench/kernels, the example plugins, test/fixtures WAT files, every module of the .wast
// files, binaryen --translate-to-fuzz modules (N seeds, half with tail calls) and small versions
// of the instrument-memory shapes (--big adds 5 MB ones).
import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { wat } from '../test/helpers/wasm.js';
import { topLevelForms, children, parseVectors } from '../test/fuel/golden.js';
import { fuzzModule, TAIL_CALL_FEATURES } from '../test/fuel/fuzz.js';
import { smallFuncs, hugeFuncs, bigData, tiled } from './gen-shapes.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const refDist = args[0];
if (!refDist || refDist.startsWith('--')) {
  console.error('usage: node bench/instrument-identical.js REFERENCE_DIST [--fuzz N] [--big]');
  process.exit(2);
}
const fuzzAt = args.indexOf('--fuzz');
const FUZZ = fuzzAt >= 0 ? Number(args[fuzzAt + 1]) : 40;
const BIG = args.includes('--big');

const mine = await import(pathToFileURL(path.join(root, 'dist/fuel/instrument.js')).href);
const ref = await import(pathToFileURL(path.join(path.resolve(refDist), 'fuel/instrument.js')).href);

const FORMS = [
  ['normal', {}],
  ['moveCharges off', { moveCharges: false }],
  ['threadFuel off', { threadFuel: false }],
  ['profile', { profile: true }],
  ['start fuel + memory cap', { initialFuel: 12345n, maxMemoryPages: 4096 }],
];

function files(dir, ext) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (e === 'node_modules' || e === 'target') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(ext)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

const modules = [];
for (const f of [...files(path.join(root, 'bench/kernels'), '.wasm'), ...files(path.join(root, 'plugins-example'), '.wasm')]) {
  modules.push({ name: path.relative(root, f), bytes: readFileSync(f) });
}
const WAST_FEATURES = { tail_call: true, exceptions: true };
for (const f of files(path.join(root, 'test/fixtures'), '.wat')) {
  // Deliberately invalid fixtures are compared too (both builds must fail alike); templates
  // with placeholders do not parse and are left out.
  for (const check of [true, false]) {
    try {
      modules.push({ name: path.relative(root, f), bytes: wat(readFileSync(f, 'utf8'), { features: WAST_FEATURES, check }) });
      break;
    } catch {
      // next
    }
  }
}
for (const f of files(path.join(root, 'test/fixtures'), '.wast')) {
  let i = 0;
  const forms = topLevelForms(readFileSync(f, 'utf8'));
  // Spec-style command files hold modules; the fuel vector files hold (assert_fuel ... MODULE).
  const texts = forms.some((x) => children(x.text)[0] === 'assert_fuel')
    ? parseVectors(f).map((v) => v.module)
    : forms.map((x) => x.text).filter((t) => children(t)[0] === 'module');
  for (const text of texts) {
    try {
      modules.push({ name: `${path.relative(root, f)}#${i++}`, bytes: wat(text, { features: WAST_FEATURES }) });
    } catch {
      // A vector whose WAT needs features the fuel tests enable differently: not compared.
    }
  }
}
const fuzzDir = mkdtempSync(path.join(tmpdir(), 'bext-identical-'));
try {
  for (let seed = 1; seed <= FUZZ; seed++) {
    const extra = seed % 2 === 0 ? TAIL_CALL_FEATURES : [];
    modules.push({ name: `fuzz seed ${seed}${extra.length ? ' tail-call' : ''}`, bytes: await fuzzModule(fuzzDir, seed, 3000 + (seed % 7) * 2000, extra) });
  }
} finally {
  rmSync(fuzzDir, { recursive: true, force: true });
}
const kernel = readFileSync(path.join(root, 'bench/kernels/json.wasm'));
modules.push(
  { name: 'shape small-funcs 0.5 MB', bytes: smallFuncs(0.5) },
  { name: 'shape huge-funcs 0.5 MB', bytes: hugeFuncs(0.5, 3) },
  { name: 'shape big-data 2 MB', bytes: bigData(2, 0.2) },
  { name: 'shape tiled 0.5 MB', bytes: tiled(kernel, 0.5) },
);
if (BIG) {
  modules.push(
    { name: 'shape small-funcs 5 MB', bytes: smallFuncs(5) },
    { name: 'shape huge-funcs 5 MB', bytes: hugeFuncs(5, 4) },
    { name: 'shape big-data 20 MB', bytes: bigData(20, 2) },
    { name: 'shape tiled 5 MB', bytes: tiled(kernel, 5) },
  );
}

const digest = (r) => {
  const h = createHash('sha256');
  h.update(r.bytes);
  h.update(new Uint8Array(r.offsets.out.buffer, r.offsets.out.byteOffset, r.offsets.out.byteLength));
  h.update(new Uint8Array(r.offsets.input.buffer, r.offsets.input.byteOffset, r.offsets.input.byteLength));
  return h.digest('hex');
};
const run = (impl, bytes, opts) => {
  try {
    return digest(impl.instrumentWithOffsets(new Uint8Array(bytes), opts));
  } catch (err) {
    return `error ${err.name}: ${err.message}`;
  }
};

let same = 0;
let total = 0;
const differ = [];
for (const m of modules) {
  for (const [form, opts] of FORMS) {
    total++;
    const a = run(mine, m.bytes, opts);
    const b = run(ref, m.bytes, opts);
    if (a === b) same++;
    else differ.push(`${m.name} (${form}): ${a.slice(0, 80)} vs ${b.slice(0, 80)}`);
  }
}
for (const d of differ) console.log(`DIFFERS ${d}`);
console.log(`${same} of ${total} (module, form) pairs identical (${modules.length} modules × ${FORMS.length} forms; bytes and offset map)`);
process.exit(differ.length ? 1 : 0);
