// A function just under V8's size limit can grow above it once metered: bext must name the
// function and the limit (an input it cannot meter), not blame itself for an invalid module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instrument, InstrumenterBug } from '../../dist/fuel/index.js';
import { V8_MAX_FUNCTION_BYTES } from '../../dist/fuel/instrument.js';
import { WasmFormatError } from '../../dist/wasm/index.js';

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id, content) => [id, ...leb(content.length), ...content];

/** `(func $calls (param i32) ...)`, exported as "calls": `units` calls to itself (metering adds ~3.7×). */
function callsModule(units) {
  const unit = [0x20, 0x00, 0x10, 0x00]; // local.get 0; call 0
  const body = new Uint8Array(1 + units * unit.length + 1);
  body[0] = 0x00; // no locals
  for (let i = 0; i < units; i++) body.set(unit, 1 + i * unit.length);
  body[body.length - 1] = 0x0b;
  const head = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(7, [1, 5, ...Buffer.from('calls'), 0x00, 0]),
  ];
  const entry = [...leb(body.length)];
  const codeLen = 1 + entry.length + body.length;
  const codeHead = [10, ...leb(codeLen), 1, ...entry];
  const out = new Uint8Array(head.length + codeHead.length + body.length);
  out.set(head, 0);
  out.set(codeHead, head.length);
  out.set(body, head.length + codeHead.length);
  return out;
}

test('a function that metering would push over V8\'s size limit is named, with both sizes', async () => {
  // 2.4 MB of calls: valid as it is, above 7,654,321 bytes once every block is charged.
  const wasm = callsModule(600_000);
  assert.ok(WebAssembly.validate(wasm), 'the input is a valid module');
  assert.ok(wasm.length < V8_MAX_FUNCTION_BYTES);
  await assert.rejects(instrument(wasm), (err) => {
    assert.ok(err instanceof WasmFormatError, `not InstrumenterBug: ${err}`);
    assert.ok(!(err instanceof InstrumenterBug));
    assert.equal(err.kind, 'unsupported');
    assert.match(err.message, /^function 0 is too big to meter: its body is 2\.4 MB, \d+\.\d MB with fuel metering, and V8 compiles no function above 7,654,321 bytes; split it/);
    return true;
  });
});

test('a big function that stays under the limit once metered still instruments', async () => {
  const wasm = callsModule(100_000);
  const out = await instrument(wasm);
  assert.ok(WebAssembly.validate(out));
});
