// Reads `(assert_fuel ...)` vector files and runs each vector; failures name file:line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { instrument } from '../../dist/fuel/index.js';
import { HUGE, call } from './harness.js';

// wasmtime runs a start function through a caller costing 2 (entry + call).
const START_CALL_OVERHEAD = 2;

/** Splits the file into top-level parenthesised forms with their 1-based line numbers. */
export function topLevelForms(text) {
  const forms = [];
  let depth = 0;
  let start = -1;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    else if (c === ';' && text[i + 1] === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      line++;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    } else if (c === '(') {
      if (depth === 0) {
        start = i;
        startLine = line;
      }
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0) forms.push({ text: text.slice(start, i + 1), line: startLine });
    }
  }
  return forms;
}

/** Children of a form: atoms and nested (...) texts. */
export function children(form) {
  const inner = form.slice(1, -1);
  const out = [];
  let i = 0;
  while (i < inner.length) {
    const c = inner[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(') {
      let depth = 0;
      const s = i;
      for (; i < inner.length; i++) {
        if (inner[i] === '"') {
          i++;
          while (inner[i] !== '"') i += inner[i] === '\\' ? 2 : 1;
        } else if (inner[i] === '(') depth++;
        else if (inner[i] === ')' && --depth === 0) break;
      }
      out.push(inner.slice(s, ++i));
    } else if (c === '"') {
      const s = i++;
      while (inner[i] !== '"') i += inner[i] === '\\' ? 2 : 1;
      out.push(inner.slice(s, ++i));
    } else {
      const s = i;
      while (i < inner.length && !/[\s()]/.test(inner[i])) i++;
      out.push(inner.slice(s, i));
    }
  }
  return out;
}

const value = (atom) => (atom.endsWith('n') ? BigInt(atom.slice(0, -1)) : Number(atom));

export function parseVectors(file) {
  const text = readFileSync(file, 'utf8');
  return topLevelForms(text).map(({ text: form, line }) => {
    const parts = children(form);
    if (parts[0] !== 'assert_fuel') throw new Error(`${file}:${line}: unknown form ${parts[0]}`);
    const v = { where: `${path.relative(process.cwd(), file)}:${line}`, expected: Number(parts[1]), module: parts[parts.length - 1] };
    for (const p of parts.slice(2, -1)) {
      const sub = children(p);
      if (sub[0] === 'invoke') v.invoke = { name: JSON.parse(sub[1]), args: sub.slice(2).map(value) };
      else if (sub[0] === 'result') v.result = sub.slice(1).map(value);
      else if (sub[0] === 'trap') v.trap = JSON.parse(sub[1]);
      else if (sub[0] === 'throws') v.throws = true;
      else if (sub[0] === 'checks') v.checks = sub.slice(1).map(Number);
      else throw new Error(`${v.where}: unknown clause ${sub[0]}`);
    }
    return v;
  });
}

/** What vector modules may import: a no-op, and a function that throws a JavaScript error. */
export function vectorImports() {
  return { env: { noop: () => {}, boom: () => { throw new Error('boom'); } } };
}

/**
 * Runs one vector; returns undefined when it holds, else a message starting with file:line.
 * `assemble` turns WAT into the module to meter (test/fuel/binaryen-roundtrip.js passes the
 * module through binaryen first); `options` go to instrument() for invoked vectors.
 */
export async function runVector(v, assemble = wat, options = {}) {
  let bytes;
  try {
    bytes = assemble(v.module);
  } catch (err) {
    return `${v.where}: WAT does not assemble: ${String(err.stderr ?? err.message).split('\n')[0]}`;
  }
  const imports = vectorImports();
  if (!v.invoke) {
    const out = await instrument(bytes, { initialFuel: HUGE });
    let used;
    try {
      const { instance } = await WebAssembly.instantiate(out, imports);
      used = Number(HUGE - instance.exports.bext_fuel.value);
    } catch {
      // A trapping start function leaves no instance to read `bext_fuel` from: run the same
      // function as an export instead and add the start call's fixed overhead.
      const m = /\(start (\$?\w+)\)/.exec(v.module);
      if (!m) throw new Error(`${v.where}: instantiation failed without a start function`);
      const asExport = v.module.replace(m[0], `(export "__start" (func ${m[1]}))`);
      const { instance } = await WebAssembly.instantiate(await instrument(assemble(asExport)), imports);
      const r = call(instance, '__start');
      used = r.used + START_CALL_OVERHEAD;
    }
    return used === v.expected ? undefined : `${v.where}: expected ${v.expected} fuel, found ${used}`;
  }
  const out = await instrument(bytes, options);
  const { instance } = await WebAssembly.instantiate(out, imports);
  const r = call(instance, v.invoke.name, v.invoke.args);
  if (v.throws) {
    if (!(r.error instanceof WebAssembly.Exception)) return `${v.where}: expected an uncaught wasm exception, got ${r.error ? r.error.message : `result ${r.value}`}`;
  } else if (v.trap !== undefined) {
    if (!r.error) return `${v.where}: expected a trap "${v.trap}", got result ${r.value}`;
    if (!String(r.error.message).includes(v.trap)) return `${v.where}: expected trap "${v.trap}", got "${r.error.message}"`;
    if (r.outOfFuel) return `${v.where}: a guest trap was reported as out of fuel`;
  } else if (r.error) {
    return `${v.where}: unexpected trap ${r.error.message}`;
  }
  if (v.result !== undefined) {
    const got = Array.isArray(r.value) ? r.value : r.value === undefined ? [] : [r.value];
    if (JSON.stringify(got.map(String)) !== JSON.stringify(v.result.map(String))) {
      return `${v.where}: expected result ${v.result.join(' ')}, got ${got.join(' ')}`;
    }
  }
  return r.used === v.expected ? undefined : `${v.where}: expected ${v.expected} fuel, found ${r.used}`;
}
