/**
 * Access to one guest instance from the host side (worker thread): bounds-checked reads of guest
 * memory, writes through the guest's own allocator, and the fuel global. Every pointer and length
 * a guest hands the host passes through `read` (or `view`), so one function owns the bounds rule.
 */
import type { AbiSummary } from './abi-table.js';
import { fuelAccess, type FuelAccess } from './fuel-access.js';

/**
 * A guest mistake found by the host (bad pointer, proc_exit). Thrown out of a host import, it
 * unwinds the guest call, which then ends as a trap with this message. Never escapes the worker.
 *
 * A guest built with exception handling can catch it: `catch_all` catches any JavaScript
 * exception an import throws, while a wasmtime trap cannot be caught. So every fault is also
 * recorded as it leaves an import (refusingAfterFault): the hook call ends as this trap even when
 * the guest caught it, and the host imports refuse to run for the rest of the call.
 */
export class GuestFault extends Error {
  constructor(
    readonly kind: string,
    message: string,
    /** The import that found it, shown as the innermost stack frame. */
    readonly where?: string,
  ) {
    super(message);
    this.name = 'GuestFault';
  }
}

/** The fault raised during the current guest call (a worker runs one guest at a time). */
let raised: GuestFault | null = null;

/** The fault raised since the last call, if any; the record is cleared. */
export function takeFault(): GuestFault | null {
  const f = raised;
  raised = null;
  return f;
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * The import, made to throw again the fault the guest already caused in this call (GuestFault):
 * a guest that caught it with `catch_all` gets no further host service before the call ends as
 * that trap. Fixed arities keep the hot imports free of a rest array.
 */
export function refusingAfterFault(fn: AnyFn, arity: number): AnyFn {
  const check = (): void => {
    if (raised) throw raised;
  };
  const leaving = (err: unknown): never => {
    if (err instanceof GuestFault) raised = err;
    throw err;
  };
  switch (arity) {
    case 0:
      return () => {
        check();
        try {
          return fn();
        } catch (err) {
          return leaving(err);
        }
      };
    case 1:
      return (a) => {
        check();
        try {
          return fn(a);
        } catch (err) {
          return leaving(err);
        }
      };
    case 2:
      return (a, b) => {
        check();
        try {
          return fn(a, b);
        } catch (err) {
          return leaving(err);
        }
      };
    case 3:
      return (a, b, c) => {
        check();
        try {
          return fn(a, b, c);
        } catch (err) {
          return leaving(err);
        }
      };
    case 4:
      return (a, b, c, d) => {
        check();
        try {
          return fn(a, b, c, d);
        } catch (err) {
          return leaving(err);
        }
      };
    default:
      return (...args) => {
        check();
        try {
          return fn(...args);
        } catch (err) {
          return leaving(err);
        }
      };
  }
}

/** Fuel given to host-initiated allocator/deallocator calls and bext_name/bext_priority. */
export const ABI_ALLOWANCE = 10_000_000;

type Fn = (...args: unknown[]) => unknown;

export class Guest {
  readonly memory: WebAssembly.Memory;
  private readonly fuel: FuelAccess;
  private readonly allocFn: ((size: number) => number) | null;
  private readonly freeFn: ((ptr: number, len: number) => void) | null;
  /** All of memory, for write(); renewed when memory grew. */
  private bytes: Uint8Array;

  constructor(
    readonly exports: WebAssembly.Exports,
    summary: AbiSummary,
    fuelGlobal: string,
  ) {
    this.memory = exports.memory as WebAssembly.Memory;
    this.bytes = new Uint8Array(this.memory.buffer);
    const g = exports[fuelGlobal];
    // Every module reaching a worker went through the instrumenter, which always adds the global.
    if (!(g instanceof WebAssembly.Global)) throw new Error(`internal: instrumented module lacks the ${fuelGlobal} export`);
    this.fuel = fuelAccess(g);
    const a = summary.allocator ? (exports[summary.allocator] as Fn) : null;
    this.allocFn = !a
      ? null
      : summary.allocator === 'cabi_realloc'
        ? (size) => a(0, 0, 1, size) as number
        : (size) => a(size) as number;
    const d = summary.deallocator ? (exports[summary.deallocator] as Fn) : null;
    this.freeFn = !d ? null : summary.deallocator === 'free' ? (ptr) => void d(ptr) : (ptr, len) => void d(ptr, len);
  }

  setFuel(v: number): void {
    this.fuel.set(v);
  }

  /** Fuel remaining (negative or zero after running out). */
  getFuel(): number {
    return this.fuel.get();
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * The guest bytes [ptr, ptr+len) as a view (valid until the next allocation or grow), or a
   * GuestFault naming the import and argument. i32 values arrive signed; they are unsigned here,
   * and the sum is computed in doubles so ptr+len cannot wrap.
   */
  view(ptr: number, len: number, where: string, what: string): Uint8Array {
    const p = ptr >>> 0;
    const n = len >>> 0;
    const size = this.size;
    if (p + n > size) {
      throw new GuestFault('bad pointer', `${where}: ${what} range [${p}, ${p + n}) outside memory of ${size} bytes`, where);
    }
    return new Uint8Array(this.memory.buffer, p, n);
  }

  /** Like view, but a copy that stays valid. */
  read(ptr: number, len: number, where: string, what: string): Uint8Array {
    return this.view(ptr, len, where, what).slice();
  }

  /**
   * Copies bytes into memory the guest allocator hands out. Returns the pointer, or null when
   * there is no allocator or it failed (returned 0, or a block outside memory).
   */
  write(bytes: Uint8Array): number | null {
    if (!this.allocFn) return null;
    if (bytes.length === 0) return 0;
    const ptr = this.allocFn(bytes.length) >>> 0;
    const end = ptr + bytes.length;
    // A view kept from the last write: growing memory detaches its buffer (length 0), and a
    // shared memory's old view stays shorter than the memory; either way it is made anew.
    let mem = this.bytes;
    if (end > mem.length) mem = this.bytes = new Uint8Array(this.memory.buffer);
    if (ptr === 0 || end > mem.length) return null;
    mem.set(bytes, ptr);
    return ptr;
  }

  free(ptr: number, len: number): void {
    if (this.freeFn && ptr !== 0) this.freeFn(ptr, len);
  }

  get canFree(): boolean {
    return this.freeFn !== null;
  }
}

const strict = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');
export const encoder = new TextEncoder();

/** UTF-8 → string, or null when the bytes are not valid UTF-8. */
export function utf8(bytes: Uint8Array): string | null {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

/** UTF-8 → string with U+FFFD for bad bytes (log text, error messages). */
export function utf8Lenient(bytes: Uint8Array): string {
  return lenient.decode(bytes);
}

/** (ptr<<32)|len as the i64 a guest receives. */
export function pack(ptr: number, len: number): bigint {
  return (BigInt(ptr >>> 0) << 32n) | BigInt(len >>> 0);
}

export function unpack(v: bigint): { ptr: number; len: number } {
  const u = BigInt.asUintN(64, v);
  return { ptr: Number(u >> 32n), len: Number(u & 0xffffffffn) };
}
