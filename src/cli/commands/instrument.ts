/**
 * `bext plugin instrument IN.wasm -o OUT.wasm [--fuel N]`: writes the fuel-metered module, so
 * it can be inspected or run by any engine (protocol in docs/fuel.md).
 */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BextError } from '../../errors.js';
import { instrument, InstrumenterBug, ttyProgress } from '../../fuel/index.js';
import { WasmFormatError } from '../../wasm/index.js';
import { duration, thousands } from '../../format.js';

export interface InstrumentCommandOptions {
  output?: string;
  fuel?: string;
  [key: string]: unknown;
}

function usage(message: string, details: string[] = []): BextError {
  return new BextError('usage', message, { details });
}

function parseFuel(raw: string | undefined): bigint {
  if (raw === undefined) return 0n;
  const text = raw.replace(/_/g, '');
  if (!/^\d+$/.test(text)) throw usage(`--fuel must be a whole number of fuel units, got "${raw}"`);
  const n = BigInt(text);
  if (n > (1n << 63n) - 1n) throw usage(`--fuel ${raw} is larger than the largest i64 (${(1n << 63n) - 1n})`);
  return n;
}

function readInput(input: string): Uint8Array {
  let st;
  try {
    st = statSync(input);
  } catch {
    throw usage(`not a file: ${input} does not exist`);
  }
  if (!st.isFile()) throw usage(`not a file: ${input} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}`);
  try {
    return readFileSync(input);
  } catch (err) {
    throw usage(`cannot read ${input}: ${(err as Error).message}`);
  }
}

export async function run(input: string, opts: InstrumentCommandOptions = {}): Promise<number> {
  if (!opts.output) throw usage('missing -o, --output <file>: where to write the instrumented module');
  const initialFuel = parseFuel(opts.fuel);
  const bytes = readInput(input);
  const t0 = performance.now();
  let out: Uint8Array;
  try {
    out = await instrument(bytes, { initialFuel, onProgress: ttyProgress(`instrumenting ${path.basename(input)}`) });
  } catch (err) {
    if (err instanceof WasmFormatError) {
      throw new BextError('bad_wasm', `${input}: ${err.message}`, { cause: err });
    }
    if (err instanceof InstrumenterBug) throw new BextError('instrument_bug', err.message, { cause: err });
    throw err;
  }
  const ms = performance.now() - t0;
  const output = path.resolve(opts.output);
  const tmp = `${output}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, out);
    renameSync(tmp, output);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new BextError('write_failed', `cannot write ${opts.output}: ${(err as Error).message}`);
  }
  process.stdout.write(
    `wrote ${opts.output}: ${thousands(out.length)} bytes (input ${thousands(bytes.length)} bytes) in ${duration(ms * 1000)}; ` +
      `exports bext_fuel = ${initialFuel}\n`,
  );
  return 0;
}
