// Builds real .wasm from WAT text with wabt.js (the pinned `wabt` npm package), so the tests need
// nothing beyond `npm ci`. Also turns wasm back into text, as `wasm2wat` would.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import initWabt from 'wabt';

const wabt = await initWabt();

// What bext accepts (docs/fuel.md): the MVP plus these post-MVP features.
const FEATURES = {
  multi_value: true, bulk_memory: true, reference_types: true, simd: true, sign_extension: true,
  sat_float_to_int: true, mutable_globals: true,
};

/**
 * WAT source → wasm bytes (Buffer). Throws with wabt's message on a syntax or validation error.
 * `features` adds wabt feature flags (e.g. { tail_call: true }); `check: false` skips validation,
 * for writing deliberately invalid modules.
 */
export function wat(source, { debugNames = true, features = {}, check = true } = {}) {
  const enabled = { ...FEATURES, ...features };
  const module = wabt.parseWat('m.wat', source, enabled);
  try {
    module.resolveNames();
    if (check) module.validate(enabled);
    return Buffer.from(module.toBinary({ write_debug_names: debugNames }).buffer);
  } finally {
    module.destroy();
  }
}

/**
 * WAT source → { bytes, at }: the module, and `at('i32.load')`, the offsets where wabt wrote each
 * such instruction (from its binary log, whose lines look like `000002c: 28     ; i32.load`).
 */
export function watWithOffsets(source) {
  const module = wabt.parseWat('m.wat', source, FEATURES);
  try {
    module.resolveNames();
    module.validate(FEATURES);
    const { buffer, log } = module.toBinary({ log: true, write_debug_names: true });
    const at = (what) => log.split('\n').filter((l) => l.endsWith(`; ${what}`)).map((l) => parseInt(l, 16));
    return { bytes: new Uint8Array(buffer), at };
  } finally {
    module.destroy();
  }
}

/** Writes WAT-built wasm to a file in `dir` and returns its path. */
export function watFile(dir, name, source, options) {
  const p = path.join(dir, name);
  writeFileSync(p, wat(source, options));
  return p;
}

/** wasm bytes → text, with names from the name section (what `wasm2wat` prints). */
export function wasmText(bytes, { features = {} } = {}) {
  const module = wabt.readWasm(new Uint8Array(bytes), { readDebugNames: true, ...FEATURES, ...features });
  try {
    module.applyNames();
    return module.toText({ foldExprs: false, inlineExport: false });
  } finally {
    module.destroy();
  }
}
