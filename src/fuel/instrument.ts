/**
 * instrument(): bytes in, metered bytes out. Bad input throws WasmFormatError, whose kind says
 * which kind of bad input it was (not wasm, truncated, invalid, unsupported feature); the caller
 * words it for its user. A module the rewrite broke throws InstrumenterBug.
 */
import { thousands } from '../format.js';
import { parseModule, readFunctionNames, Reader, v8CompileMessage, WasmFormatError, type ParsedModule } from '../wasm/index.js';
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
      ...(opts.twins ? { twins: true } : {}),
    });
  } catch (err) {
    // V8's message explains a structurally invalid module best.
    if (err instanceof WasmFormatError && err.kind === 'invalid' && !WebAssembly.validate(wasm)) throw invalidWasm(wasm);
    throw err;
  }
  if (opts.inputValidated !== true && !WebAssembly.validate(wasm)) throw invalidWasm(wasm);
  // The rewrite keeps valid modules valid; checking turns a bext bug into a clear error instead of
  // a confusing one at load time.
  if (opts.checkOutput !== false && !WebAssembly.validate(out.bytes)) {
    const tooBig = oversizedFunction(wasm, out.bytes);
    if (tooBig) throw tooBig;
    throw new InstrumenterBug(`bext produced an invalid module from a valid one: ${v8Message(out.bytes)}`);
  }
  return out;
}

/** V8 refuses a function body larger than this many bytes (its kV8MaxWasmFunctionSize). */
export const V8_MAX_FUNCTION_BYTES = 7_654_321;

/** Code body sizes, in order of the code section. */
function bodySizes(bytes: Uint8Array, parsed: ParsedModule = parseModule(bytes)): number[] {
  const code = parsed.sections.find((s) => s.id === 10);
  if (!code) return [];
  const r = new Reader(bytes, code.contentStart, code.end);
  const sizes: number[] = [];
  for (let n = r.u32(); n > 0; n--) {
    const size = r.u32();
    sizes.push(size);
    r.skip(size, 'function body');
  }
  return sizes;
}

/**
 * The metering code grows every body; a function just under V8's size limit can end above it. That
 * is a limit of the input (too big a function to meter), not a broken rewrite: say which function.
 */
function oversizedFunction(input: Uint8Array, output: Uint8Array): WasmFormatError | null {
  const after = bodySizes(output);
  const i = after.findIndex((size) => size > V8_MAX_FUNCTION_BYTES);
  if (i < 0) return null;
  const parsed = parseModule(input);
  const before = bodySizes(input, parsed)[i] ?? 0;
  const index = parsed.importedFunctions + i;
  const name = readFunctionNames(input, parsed)[index];
  const mb = (n: number): string => `${(n / 1_000_000).toFixed(1)} MB`;
  return new WasmFormatError(
    'unsupported',
    `function ${index}${name ? ` (${name})` : ''} is too big to meter: its body is ${mb(before)}, ${mb(after[i]!)} with fuel metering, ` +
      `and V8 compiles no function above ${thousands(V8_MAX_FUNCTION_BYTES)} bytes; split it (or build with optimisation so it shrinks)`,
  );
}
