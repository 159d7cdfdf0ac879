/**
 * instrument(): bytes in, metered bytes out, with every failure turned into a BextError that says
 * which kind of bad input it was (not wasm, truncated, invalid, unsupported feature).
 */
import { BextError } from '../errors.js';
import { WasmDecodeError } from './bytes.js';
import { rewriteModule } from './module.js';

export interface InstrumentOptions {
  /** Initial value of `bext_fuel` (meters start functions). Default 0. */
  initialFuel?: bigint;
  /** Called with 0..1 while functions are rewritten (synchronously). */
  onProgress?: (fraction: number) => void;
  /**
   * Merge charges across segments where that is exact (default true). Turning it off gives the
   * plain one-charge-per-segment rewrite, which tests use as a reference for fuel counts.
   */
  moveCharges?: boolean;
  /**
   * Pass the fuel to internal functions as an extra param and result instead of through the
   * global (default true). Off, every function reads and writes the global; tests use that as a
   * reference.
   */
  threadFuel?: boolean;
}

export function badWasm(message: string, cause?: unknown): BextError {
  return new BextError('bad_wasm', message, { blame: 'user', exitCode: 2, cause });
}

/** V8's own compile error for a module that does not validate (first line only). */
function v8Message(wasm: Uint8Array): string {
  try {
    new WebAssembly.Module(wasm);
    return 'the module does not validate';
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return msg.replace(/^WebAssembly\.Module\(\): /, '').split('\n')[0] ?? msg;
  }
}

export function instrumentSync(wasm: Uint8Array, opts: InstrumentOptions = {}): Uint8Array {
  let out: Uint8Array;
  try {
    out = rewriteModule(wasm, { initialFuel: opts.initialFuel ?? 0n, onProgress: opts.onProgress, moveCharges: opts.moveCharges, threadFuel: opts.threadFuel });
  } catch (err) {
    if (err instanceof WasmDecodeError) {
      // V8's message explains a structurally invalid module best.
      if (err.problem === 'invalid' && !WebAssembly.validate(wasm)) throw badWasm(`invalid WebAssembly: ${v8Message(wasm)}`, err);
      throw badWasm(err.message, err);
    }
    throw err;
  }
  if (!WebAssembly.validate(wasm)) throw badWasm(`invalid WebAssembly: ${v8Message(wasm)}`);
  // The rewrite keeps valid modules valid; checking costs little and turns a bext bug into a
  // clear error instead of a confusing one at load time.
  if (!WebAssembly.validate(out)) {
    throw new BextError('instrument_bug', `bext produced an invalid module from a valid one: ${v8Message(out)}`, { blame: 'host', exitCode: 1 });
  }
  return out;
}
