// A small runner for spec-style .wast command files (module, assert_return, assert_trap,
// assert_exception): each module is run as it is and in every form of the metered rewrite, and
// each command must give its expected outcome in all of them, with the same fuel in every form.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { instrument } from '../../dist/fuel/index.js';
import { children, topLevelForms } from './golden.js';
import { call } from './harness.js';

/** The rewrite's forms: fuel must come out the same in all of them. */
export const FORMS = [
  ['normal', {}],
  ['one charge per segment', { moveCharges: false }],
  ['fuel through the global only', { threadFuel: false }],
  ['profiling build', { profile: true }],
];

/** Imports the modules may use: `js.add`, and `js.throw`, which throws a JavaScript error. */
function jsImports() {
  return {
    js: {
      add: (a, b) => a + b,
      throw: () => {
        throw new Error('js error');
      },
    },
  };
}

/** `(i32.const 5)` and friends: the JS value to pass, and a text to compare results by. */
function constant(form) {
  const [op, text] = children(form);
  const type = op.split('.')[0];
  if (type === 'i32') return { type, js: Number(BigInt.asIntN(32, BigInt(text.replaceAll('_', '')))) };
  if (type === 'i64') return { type, js: BigInt.asIntN(64, BigInt(text.replaceAll('_', ''))) };
  if (type === 'f32' || type === 'f64') return { type, js: parseFloatText(text) };
  throw new Error(`unsupported constant ${form}`);
}

function parseFloatText(text) {
  if (/^[+-]?0x/i.test(text)) {
    const m = /^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/i.exec(text);
    if (!m) throw new Error(`unsupported float ${text}`);
    const frac = m[3] ?? '';
    const mant = parseInt((m[2] || '0') + frac, 16) / 16 ** frac.length;
    return (m[1] === '-' ? -1 : 1) * mant * 2 ** Number(m[4] ?? 0);
  }
  return Number(text);
}

const show = (v) => (typeof v === 'number' && Object.is(v, -0) ? '-0' : String(v));

/** What a call ended in: `ok V...`, `exception`, or `error MESSAGE`. */
function outcomeOf(r) {
  if (r.error) return r.error instanceof WebAssembly.Exception ? 'exception' : `error ${r.error.message}`;
  const values = Array.isArray(r.value) ? r.value : r.value === undefined ? [] : [r.value];
  return `ok ${values.map(show).join(' ')}`.trimEnd();
}

/** Runs a .wast file; returns { commands, failures } (each failure names file:line). */
export async function runWast(file, features) {
  const text = readFileSync(file, 'utf8');
  const where = (line) => `${path.basename(file)}:${line}`;
  const failures = [];
  let commands = 0;
  let plain;
  let metered = [];
  for (const { text: form, line } of topLevelForms(text)) {
    const parts = children(form);
    if (parts[0] === 'module') {
      const bytes = wat(form, { features });
      plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), jsImports());
      metered = [];
      for (const [label, options] of FORMS) {
        const { instance } = await WebAssembly.instantiate(await instrument(bytes, options), jsImports());
        metered.push({ label, instance });
      }
      continue;
    }
    commands++;
    const invoke = children(parts[1]);
    if (invoke[0] !== 'invoke') throw new Error(`${where(line)}: unsupported command ${parts[0]}`);
    const name = JSON.parse(invoke[1]);
    const args = invoke.slice(2).map((a) => constant(a).js);
    let expected;
    if (parts[0] === 'assert_return') expected = `ok ${parts.slice(2).map((p) => show(constant(p).js)).join(' ')}`.trimEnd();
    else if (parts[0] === 'assert_exception') expected = 'exception';
    else if (parts[0] === 'assert_trap') expected = `error ${JSON.parse(parts[2])}`;
    else throw new Error(`${where(line)}: unsupported command ${parts[0]}`);
    const matches = (got) => (parts[0] === 'assert_trap' ? got.startsWith('error ') && got.includes(expected.slice(6)) : got === expected);
    const original = outcomeOf(runPlain(plain, name, args));
    if (!matches(original)) failures.push(`${where(line)}: uninstrumented: expected ${expected}, got ${original}`);
    let fuel;
    for (const { label, instance } of metered) {
      const r = call(instance, name, args);
      const got = outcomeOf(r);
      if (got !== original) failures.push(`${where(line)}: ${label}: ${got}, uninstrumented ${original}`);
      if (r.outOfFuel) failures.push(`${where(line)}: ${label}: reported out of fuel`);
      fuel ??= r.used;
      if (r.used !== fuel) failures.push(`${where(line)}: ${label}: fuel ${r.used}, normal build ${fuel}`);
    }
  }
  return { commands, failures };
}

function runPlain(instance, name, args) {
  try {
    return { value: instance.exports[name](...args) };
  } catch (error) {
    return { error };
  }
}
