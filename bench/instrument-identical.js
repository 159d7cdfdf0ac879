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
// Offset maps as plain arrays: this build's are compact (offsetMapEntries), older builds' were plain.
const mineMaps = await import(pathToFileURL(path.join(root, 'dist/fuel/offset-map.js')).href);
const refMaps = await import(pathToFileURL(path.join(path.resolve(refDist), 'fuel/offset-map.js')).href);
const plainMap = (m) => (m.out ? m : (m.blockOut && refMaps.offsetMapEntries ? refMaps : mineMaps).offsetMapEntries(m));

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
// Bodies that grow several times over when metered (the output outgrows its first buffer).
const loops = Array.from({ length: 20000 }, (_, i) => `(func $l${i} (param i32) (loop (br_if 0 (local.get 0))) (if (local.get 0) (then (call $l${i} (i32.const 0)))))`);
modules.push({ name: 'growth: 20000 tiny looping functions', bytes: wat(`(module ${loops.join(' ')} (export "f" (func $l0)))`) });
if (BIG) {
  modules.push(
    { name: 'shape small-funcs 5 MB', bytes: smallFuncs(5) },
    { name: 'shape huge-funcs 5 MB', bytes: hugeFuncs(5, 4) },
    { name: 'shape big-data 20 MB', bytes: bigData(20, 2) },
    { name: 'shape tiled 5 MB', bytes: tiled(kernel, 5) },
  );
}

const sha = (b) => createHash('sha256').update(b).digest('hex');
const run = (impl, bytes, opts) => {
  try {
    return impl.instrumentWithOffsets(new Uint8Array(bytes), opts);
  } catch (err) {
    return { error: `${err.name}: ${err.message}` };
  }
};

const EXACT = 0x80000000;
/**
 * Whether two offset maps of the same output send every code offset to the same input offset,
 * except inside a renumbered local.get/set/tee (0x20-0x22), which one map may give as a whole
 * (its start) and the other byte for byte. Frames only ever point at instruction starts, where
 * both agree. Returns undefined when equivalent, else the first offset that differs.
 */
function mapsDiffer(bytes, a, b) {
  const end = Math.max(a.out[a.out.length - 1], b.out[b.out.length - 1]);
  const start = Math.min(a.out[0], b.out[0]);
  let i = -1;
  let j = -1;
  const value = (m, k, o) => {
    if (k < 0) return -1;
    const v = m.input[k];
    if (v === 0xffffffff) return -1;
    return v >= EXACT ? v - EXACT : v + (o - m.out[k]);
  };
  for (let o = start; o < end; o++) {
    while (i + 1 < a.out.length && a.out[i + 1] <= o) i++;
    while (j + 1 < b.out.length && b.out[j + 1] <= o) j++;
    const va = value(a, i, o);
    const vb = value(b, j, o);
    if (va === vb) continue;
    // One side exact from the op's start, the other copied: allowed inside a local op only.
    const [m, k, other] = a.input[i] >= EXACT && a.input[i] !== 0xffffffff ? [a, i, vb] : [b, j, va];
    const opAt = m.out[k];
    const v = m.input[k] - EXACT;
    const ok = bytes[opAt] >= 0x20 && bytes[opAt] <= 0x22 && o > opAt && other === v + (o - opAt);
    if (!ok) return o;
  }
  return undefined;
}

let same = 0;
let sameMaps = 0;
let equivalentMaps = 0;
let total = 0;
const differ = [];
for (const m of modules) {
  for (const [form, opts] of FORMS) {
    total++;
    const a = run(mine, m.bytes, opts);
    const b = run(ref, m.bytes, opts);
    if (a.offsets) a.offsets = plainMap(a.offsets);
    if (b.offsets) b.offsets = plainMap(b.offsets);
    if (a.error || b.error) {
      if (a.error === b.error) {
        same++;
        sameMaps++;
      } else differ.push(`${m.name} (${form}): ${a.error ?? 'ok'} vs ${b.error ?? 'ok'}`);
      continue;
    }
    if (sha(a.bytes) !== sha(b.bytes)) {
      differ.push(`${m.name} (${form}): output bytes differ`);
      continue;
    }
    same++;
    const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const mapBytes = (r) => sha(bytesOf(r.offsets.out)) + sha(bytesOf(r.offsets.input));
    if (mapBytes(a) === mapBytes(b)) sameMaps++;
    else {
      const at = mapsDiffer(a.bytes, a.offsets, b.offsets);
      if (at === undefined) equivalentMaps++;
      else differ.push(`${m.name} (${form}): offset maps disagree at output offset 0x${at.toString(16)}`);
    }
  }
}
for (const d of differ) console.log(`DIFFERS ${d}`);
console.log(`${same} of ${total} (module, form) pairs give identical output bytes (or the same error) (${modules.length} modules × ${FORMS.length} forms)`);
console.log(`offset maps: ${sameMaps} identical, ${equivalentMaps} equivalent (differ only inside renumbered local accesses), ${total - sameMaps - equivalentMaps} other`);
process.exit(differ.length ? 1 : 0);
