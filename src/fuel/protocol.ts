/**
 * The host side of the fuel protocol (docs/fuel.md): what to write into `bext_fuel` before a
 * call, how to read consumption after it, and how to recognise the out-of-fuel trap.
 */
import { CALL_OVERHEAD } from './costs.js';
import { OUT_OF_FUEL_NAME } from './contract.js';

/** Value to store in `bext_fuel` before a top-level call with this budget. */
export function initialFuelFor(budget: number): bigint {
  return BigInt(budget) - BigInt(CALL_OVERHEAD);
}

/** Fuel consumed by a top-level call (clamped to 0..budget, as wasmtime clamps remaining at 0). */
export function fuelUsed(budget: number, remaining: bigint | number): number {
  // In doubles, not BigInts (every call pays this; BigInt arithmetic allocates): exact while
  // |remaining| < 2^53, and beyond that the clamps below give the same answer either way.
  const used = budget - Number(remaining);
  if (used > budget) return budget;
  return used > 0 ? used : 0;
}

// V8 prints `at NAME (wasm://wasm/…:wasm-function[i]:0x…)`, or `at wasm://…` for unnamed functions.
const NAMED_FRAME = /^\s*at\s+(\S+)\s+\(wasm:\/\//;
const ANY_WASM_FRAME = /^\s*at\s.*wasm:\/\//;

/** Name of the innermost wasm frame of an error's stack ('' when unnamed), if any. */
export function innermostWasmFrame(err: unknown): string | undefined {
  const stack = typeof err === 'object' && err !== null ? (err as { stack?: unknown }).stack : undefined;
  if (typeof stack !== 'string') return undefined;
  for (const line of stack.split('\n')) {
    if (!ANY_WASM_FRAME.test(line)) continue;
    return NAMED_FRAME.exec(line)?.[1] ?? '';
  }
  return undefined;
}

/**
 * True when a trap was bext's fuel check: the check writes the (non-positive) remaining fuel to
 * `bext_fuel` and traps inside `bext_out_of_fuel`, a function only the instrumenter creates.
 * A guest `unreachable` never has that frame innermost, whatever the fuel left.
 */
export function isOutOfFuel(err: unknown, remaining: bigint | number): boolean {
  if (remaining > 0) return false;
  return innermostWasmFrame(err) === OUT_OF_FUEL_NAME;
}
