/**
 * The worker reads and writes a guest's fuel (the instrumenter's exported `bext_fuel` global,
 * docs/fuel.md "Host protocol") around every hook call: the budget before it, what is left after
 * it, and the allowance of each allocator call in between. Through `WebAssembly.Global.value`
 * each access is a call into V8's C++ API and a BigInt (an i64 global): 54-75 ns for a write and
 * a read on Node 20, a tenth or more of a no-op hook call's cost in its worker. A two-function wasm
 * module that imports the global does both in 8 ns: JS calls into wasm with a double, which
 * TurboFan makes a direct call.
 *
 * Fuel fits a double exactly: budgets are at most 2^53 (config/schema.ts) and what is left is
 * never more than the budget; a call can overdraw it only by the cost of its last segment.
 */

/**
 * The module, assembled from:
 *
 *   (module
 *     (import "bext" "fuel" (global $fuel (mut i64)))
 *     (func (export "set") (param f64) (global.set $fuel (i64.trunc_sat_f64_s (local.get 0))))
 *     (func (export "get") (result f64) (f64.convert_i64_s (global.get $fuel))))
 *
 * (test/runtime/fuel-access.test.js assembles this text and compares.)
 */
export const FUEL_ACCESS_WASM: Uint8Array = Buffer.from(
  '0061736d0100000001090260017c006000017c020e010462657874046675656c037e010303020001070d02037365740000036765740001' +
    '0a100208002000fc0624000b05002300b90b',
  'hex',
);

export interface FuelAccess {
  set(fuel: number): void;
  get(): number;
}

let compiled: WebAssembly.Module | null = null;

/** Reads and writes `global` (a mutable i64) as a number. */
export function fuelAccess(global: WebAssembly.Global): FuelAccess {
  compiled ??= new WebAssembly.Module(FUEL_ACCESS_WASM);
  const exports = new WebAssembly.Instance(compiled, { bext: { fuel: global } }).exports;
  return { set: exports.set as (fuel: number) => void, get: exports.get as () => number };
}
