// The first pass (first-pass.ts) answers "may this function trap before it writes bext_fuel?" from
// a lean read of the body; the full body walk answers the same question from its events. The two
// must agree on every body (the answer decides whether callers write the global before a call,
// so a wrong "no" would let a trap report stale fuel), and so must the answer a body's rewrite
// gives for its own function (BodyRewriter.lastMayTrapBeforeWrite, from the events it recorded). Compared here on random modules (with and
// without tail calls and exceptions), a generated module of many small functions, and bodies
// the lean read must leave to the walk (bad input among them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyRewriter } from '../../dist/fuel/body.js';
import { FirstPass, UNSURE } from '../../dist/fuel/first-pass.js';
import { ByteList, IntList } from '../../dist/fuel/int-list.js';
import { parseModule, Reader, Writer } from '../../dist/wasm/index.js';
import { fuzzModule, TAIL_CALL_FEATURES } from './fuzz.js';
import { smallFuncs } from '../../bench/gen-shapes.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';

/** Each defined function's body range and param count. */
function bodies(buf) {
  const info = parseModule(buf);
  const code = info.sections.find((s) => s.id === 10);
  if (!code) return { info, list: [] };
  const paramsOf = (ti) => {
    const r = new Reader(info.typeEntries[ti], 1);
    return r.u32();
  };
  const r = new Reader(buf, code.contentStart, code.end);
  const list = [];
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    const size = r.u32();
    const func = info.importedFunctions + i;
    list.push({ func, start: r.pos, end: r.pos + size, params: paramsOf(info.functionTypes[func]) });
    r.pos += size;
  }
  return { info, list };
}

/** The walk's answer, or the error it throws. */
function walkAnswer(rw, buf, b, ctx) {
  try {
    const walked = rw.walk(buf, b.start, b.end, ctx, true, true);
    return rw.trapsFirst || rw.needsSaveAfterCalls(walked.loopCount, rw.segCost.n);
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
}

function answer(rw, buf, b, ctx) {
  try {
    return rw.mayTrapBeforeWrite(buf, b.start, b.end, ctx);
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
}

function rewrites(rw, buf, b, ctx) {
  try {
    rw.rewrite(new Writer(64), buf, b.start, b.end, ctx);
    return true;
  } catch {
    return false;
  }
}

/** Compares the two answers on every body; returns how many bodies the lean read answered itself. */
function compare(buf, label) {
  const { info, list } = bodies(buf);
  const total = info.functionTypes.length;
  // Every function threaded: the question is asked of all of them, and calls between them record
  // the events of threaded calls.
  const threadedFuncs = new Uint8Array(total).fill(1);
  const ctx = {
    fuelGlobal: 0, outOfFuelFunc: total, params: 0, resultBlockType: Uint8Array.of(0x40), funcIndex: 0,
    threadedFuncs, writeBeforeCall: new Uint8Array(total).fill(1),
  };
  const lean = new BodyRewriter(true);
  const full = new BodyRewriter(true);
  const rewriter = new BodyRewriter(true);
  const pass = new FirstPass();
  const ev = { evKind: new ByteList(), evArg: new IntList(), evTable: new IntList() };
  let answered = 0;
  for (const b of list) {
    ctx.funcIndex = b.func;
    ctx.params = b.params;
    const expected = walkAnswer(full, buf, b, ctx);
    assert.equal(answer(lean, buf, b, ctx), expected, `${label}: function ${b.func}`);
    // (A body whose walk stopped early may still be refused further on: its rewrite then throws.)
    if (typeof expected === 'boolean' && rewrites(rewriter, buf, b, ctx)) {
      assert.equal(rewriter.lastMayTrapBeforeWrite(), expected, `${label}: function ${b.func}, from its rewrite`);
    }
    if (pass.scan(buf, b.start, b.end, b.params, threadedFuncs, ev) !== UNSURE) answered++;
  }
  return { answered, bodies: list.length };
}

test('first pass: the same answer as the walk on random modules, with and without tail calls', async () => {
  const dir = tempDir('bext-first-pass-');
  let answered = 0;
  let total = 0;
  for (let seed = 1; seed <= 8; seed++) {
    const extra = seed % 2 === 0 ? TAIL_CALL_FEATURES : [];
    const r = compare(await fuzzModule(dir, 900 + seed, 4000 + seed * 1000, extra), `fuzz seed ${900 + seed}`);
    answered += r.answered;
    total += r.bodies;
  }
  assert.ok(total > 50, `${total} bodies compared`);
  assert.ok(answered > 0, 'the lean read answered some bodies itself');
});

test('first pass: the same answer as the walk on a module of many small functions', () => {
  const r = compare(smallFuncs(0.3), 'small-funcs');
  // Nothing in these bodies needs the walk.
  assert.equal(r.answered, r.bodies);
});

test('first pass: bodies it leaves to the walk get the walk\'s answer, or its error', () => {
  const text = `(module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (memory 1)
    (tag $e)
    (func $callee (param i32) (result i32) (i32.div_s (local.get 0) (i32.const 3)))
    (func $tail (param i32) (result i32) (return_call $callee (local.get 0)))
    (func $eh (param i32) (result i32)
      (try (do (call $callee (local.get 0)) (drop) (throw $e)) (catch $e))
      (i32.load (local.get 0)))
    (func $simd (param i32) (result i32) (drop (v128.load (local.get 0))) (local.get 0))
    (func $loops (param i32) (result i32)
      (block $out (loop $l (br_if $out (i32.eqz (local.get 0)))
        (local.set 0 (call $callee (local.get 0))) (br $l)))
      (block $a (block $b (br_table $a $b (local.get 0))) (drop (i32.load (local.get 0))))
      (local.get 0)))`;
  const buf = wat(text, { features: { tail_call: true, exceptions: true, simd: true } });
  compare(buf, 'constructs');
  // Bad input: each body in turn with its final `end` turned into an unknown opcode.
  const { list } = bodies(buf);
  for (const b of list) compare(withBadEnd(buf, b), `function ${b.func} with a bad last byte`);
});

/** A copy of `buf` with the last byte of body `b` (its final `end`) an unknown opcode. */
function withBadEnd(buf, b) {
  const copy = buf.slice();
  copy[b.end - 1] = 0xff;
  return copy;
}
