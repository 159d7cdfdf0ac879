// Shared helpers for the fuel tests: build WAT, instrument it, run it with a budget.
import { wat } from '../helpers/wasm.js';
import { instrument, fuelUsed, isOutOfFuel, initialFuelFor } from '../../dist/fuel/index.js';

export const HUGE = 1n << 60n;

/** Instruments WAT (or bytes) and instantiates it with `initialFuel` (meters the start function). */
export async function load(source, { initialFuel = HUGE, imports = {} } = {}) {
  const bytes = typeof source === 'string' ? wat(source) : source;
  const out = await instrument(bytes, { initialFuel });
  let error;
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiate(out, imports));
  } catch (err) {
    error = err;
  }
  return { out, instance, error };
}

/** Fuel consumed by instantiation (the start function), with a huge budget. */
export async function startFuel(source) {
  const bytes = typeof source === 'string' ? wat(source) : source;
  const out = await instrument(bytes, { initialFuel: HUGE });
  const mod = await WebAssembly.compile(out);
  // Read the global through an export after instantiation, even when start traps.
  let instance;
  let error;
  try {
    instance = await WebAssembly.instantiate(mod, {});
  } catch (err) {
    error = err;
  }
  if (!instance) throw new Error(`start trapped: ${error}`);
  return Number(HUGE - instance.exports.bext_fuel.value);
}

/** Calls an export with a budget; returns { value, error, used, remaining, outOfFuel }. */
export function call(instance, name, args = [], budget = Number.MAX_SAFE_INTEGER) {
  const g = instance.exports.bext_fuel;
  g.value = initialFuelFor(budget);
  let value;
  let error;
  try {
    value = instance.exports[name](...args);
  } catch (err) {
    error = err;
  }
  const remaining = g.value;
  return { value, error, remaining, used: fuelUsed(budget, remaining), outOfFuel: error !== undefined && isOutOfFuel(error, remaining) };
}
