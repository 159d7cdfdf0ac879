/**
 * instrument(): bytes in, metered bytes out. Bad input throws WasmFormatError, whose kind says
 * which kind of bad input it was (not wasm, truncated, invalid, unsupported feature); the caller
 * words it for its user. A module the rewrite broke throws InstrumenterBug.
 */
import { v8CompileMessage, WasmFormatError } from '../wasm/index.js';
import { rewriteModule, type InstrumentOptions, type Rewritten } from './module.js';

export type { InstrumentOptions };

/** The rewrite turned a valid module into an invalid one: a bext bug, not bad input. */
export class InstrumenterBug extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstrumenterBug';
  }
}

/** V8's own compile error for a module that does not validate. */
function v8Message(wasm: Uint8Array): string {
  try {
    new WebAssembly.Module(wasm);
    return 'the module does not validate';
  } catch (err) {
    return v8CompileMessage(err);
  }
}

function invalidWasm(wasm: Uint8Array): WasmFormatError {
  return new WasmFormatError('invalid', `invalid WebAssembly: ${v8Message(wasm)}`);
}

export function instrumentSync(wasm: Uint8Array, opts: InstrumentOptions = {}): Uint8Array {
  return instrumentWithOffsets(wasm, opts).bytes;
}

/** instrumentSync(), with the map from the output's code offsets back to the input's. */
export function instrumentWithOffsets(wasm: Uint8Array, opts: InstrumentOptions = {}): Rewritten {
  let out: Rewritten;
  try {
    out = rewriteModule(wasm, {
      initialFuel: opts.initialFuel ?? 0n,
      onProgress: opts.onProgress,
      moveCharges: opts.moveCharges,
      threadFuel: opts.threadFuel,
      maxMemoryPages: opts.maxMemoryPages,
      module: opts.module,
      ...(opts.profile ? { profile: true } : {}),
    });
  } catch (err) {
    // V8's message explains a structurally invalid module best.
    if (err instanceof WasmFormatError && err.kind === 'invalid' && !WebAssembly.validate(wasm)) throw invalidWasm(wasm);
    throw err;
  }
  if (!WebAssembly.validate(wasm)) throw invalidWasm(wasm);
  // The rewrite keeps valid modules valid; checking costs little and turns a bext bug into a
  // clear error instead of a confusing one at load time.
  if (!WebAssembly.validate(out.bytes)) throw new InstrumenterBug(`bext produced an invalid module from a valid one: ${v8Message(out.bytes)}`);
  return out;
}
