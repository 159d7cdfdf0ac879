/**
 * Main-thread loading: read the file, parse it once (src/wasm) to check it is a well-formed module
 * that speaks ABI v1 and to decide the memory cap, then fuel-instrument it (cached), which applies
 * the cap in the same rewrite, and compile. The compiled WebAssembly.Module is what workers
 * receive; a replaced worker reuses it, so a restart never re-instruments.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BextError } from '../errors.js';
import type { HookName } from '../config/types.js';
import { checkAbi, type AbiCheck, type AbiSummary, type HookReturn } from './abi-table.js';
import type { ImportTable } from './capability.js';
import type { OffsetMap } from '../fuel/index.js';
import { formatSignature, parseModule, v8CompileMessage, WasmFormatError, type Limits, type ParsedModule } from '../wasm/index.js';

export const PAGE_BYTES = 65536;
const PAGES_PER_MB = 16;

export interface WasmReport {
  file?: string;
  size: number;
  /** False when the bytes could not be read as a module at all. */
  readable: boolean;
  imports: { module: string; name: string; kind: string; signature?: string }[];
  exports: { name: string; kind: string; signature?: string }[];
  hooks: { hook: HookName; returns: HookReturn }[];
  allocator: string | null;
  deallocator: string | null;
  multiValueImports: string[];
  /** Memories defined by the module, in 64 KiB pages. */
  memory: { minPages: number; maxPages: number | null } | null;
  usesWasi: boolean;
  problems: string[];
  warnings: string[];
}

function compileMessage(err: unknown): { kind: 'invalid' | 'unsupported'; message: string } {
  const msg = v8CompileMessage(err);
  if (/experimental-wasm|invalid opcode|unknown opcode|not enabled|feature/i.test(msg)) {
    return { kind: 'unsupported', message: `unsupported feature: ${msg}` };
  }
  return { kind: 'invalid', message: `invalid: ${msg}` };
}

/** Reads and checks a module without running anything. Never throws for bad bytes. */
export function inspectWasm(bytes: Uint8Array, imports: ImportTable): WasmReport {
  const report: WasmReport = {
    size: bytes.length,
    readable: false,
    imports: [],
    exports: [],
    hooks: [],
    allocator: null,
    deallocator: null,
    multiValueImports: [],
    memory: null,
    usesWasi: false,
    problems: [],
    warnings: [],
  };
  let parsed: ParsedModule;
  try {
    parsed = parseModule(bytes);
  } catch (err) {
    if (err instanceof WasmFormatError) {
      report.problems.push(err.message);
      return report;
    }
    throw err;
  }
  report.readable = true;
  report.imports = parsed.imports.map((i) => ({
    module: i.module,
    name: i.name,
    kind: i.kind,
    ...(i.kind === 'function' ? { signature: formatSignature(i.type) } : {}),
  }));
  report.exports = parsed.exports.map((e) => ({ name: e.name, kind: e.kind, ...(e.type ? { signature: formatSignature(e.type) } : {}) }));
  const mem = parsed.memories[0];
  if (mem) report.memory = { minPages: mem.min, maxPages: mem.max };
  try {
    new WebAssembly.Module(bytes);
  } catch (err) {
    report.problems.push(compileMessage(err).message);
  }
  const abi = checkAbi(parsed, imports);
  report.problems.push(...abi.problems);
  report.warnings.push(...abi.warnings);
  report.hooks = Object.entries(abi.summary.hooks).map(([hook, returns]) => ({ hook: hook as HookName, returns }));
  report.allocator = abi.summary.allocator;
  report.deallocator = abi.summary.deallocator;
  report.multiValueImports = abi.summary.multiValueImports;
  report.usesWasi = abi.summary.usesWasi;
  return report;
}

/** Reads a plugin file with errors that say what is wrong with the path. */
export async function readWasmFile(file: string, who: string): Promise<Uint8Array> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BextError('plugin_not_found', `${who}: ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!st.isFile()) throw new BextError('plugin_not_file', `${who}: ${file}: not a file${st.isDirectory() ? ' (it is a directory)' : ''}`);
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    throw new BextError('plugin_unreadable', `${who}: ${file}: ${(err as Error).message}`);
  }
}

function loadError(who: string, file: string, message: string, details: string[] = []): BextError {
  return new BextError('bad_wasm', `${who}: ${path.basename(file)}: ${message}`, { details });
}

export interface Prepared {
  /** The module's bytes as read, valid (checkModule validated them; the memory cap is applied while instrumenting). */
  bytes: Uint8Array;
  /** What the one parse of `bytes` found; the instrumenter reuses it. */
  module: ParsedModule;
  /** `limits.max_memory_mb` in pages, when the module defines a memory to cap. */
  maxMemoryPages?: number;
  abi: AbiCheck;
  summary: AbiSummary;
  /**
   * Function index → export name, for naming trap frames. Instrumenting appends functions and
   * never moves one, so these are the metered module's too.
   */
  functionNames: Record<number, string>;
}

function capPages(maxMemoryMb: number): number {
  return Math.floor(maxMemoryMb * PAGES_PER_MB);
}

/** Why `limits.max_memory_mb` cannot cap this memory (its minimum is above the cap), if it cannot. */
export function memoryCapError(limits: Limits, maxMemoryMb: number): string | undefined {
  const cap = capPages(maxMemoryMb);
  if (limits.min <= cap) return undefined;
  return `memory declares a minimum of ${limits.min} pages (${(limits.min / PAGES_PER_MB).toFixed(1)} MiB), above limits.max_memory_mb = ${maxMemoryMb} (${cap} pages)`;
}

/** What checkModule found: the prepared module, or every problem that stops it loading. */
export type ModuleCheck = { ok: true; prepared: Prepared } | { ok: false; problems: string[] };

/**
 * Parse + ABI check + memory cap decision, without throwing: the checks loading makes, for
 * `bext config check` as much as for loading. A module that cannot be parsed or compiled has one
 * problem; one that compiles may have several ABI problems; the memory cap is checked last.
 */
export function checkModule(bytes: Uint8Array, maxMemoryMb: number, imports: ImportTable): ModuleCheck {
  let parsed: ParsedModule;
  try {
    parsed = parseModule(bytes);
  } catch (err) {
    if (err instanceof WasmFormatError) return { ok: false, problems: [err.message] };
    throw err;
  }
  if (!WebAssembly.validate(bytes)) {
    try {
      new WebAssembly.Module(bytes);
    } catch (err) {
      return { ok: false, problems: [compileMessage(err).message] };
    }
  }
  const abi = checkAbi(parsed, imports);
  if (abi.problems.length > 0) return { ok: false, problems: abi.problems };
  for (const m of parsed.memories) {
    const error = memoryCapError(m, maxMemoryMb);
    if (error) return { ok: false, problems: [error] };
  }
  const maxMemoryPages = parsed.memories.length > 0 ? capPages(maxMemoryMb) : undefined;
  return { ok: true, prepared: { bytes, module: parsed, maxMemoryPages, abi, summary: abi.summary, functionNames: parsed.functionExports } };
}

/** checkModule for loading: throws BextError (exit 2) naming every problem. */
export function prepareModule(bytes: Uint8Array, file: string, who: string, maxMemoryMb: number, imports: ImportTable): Prepared {
  const check = checkModule(bytes, maxMemoryMb, imports);
  if (check.ok) return check.prepared;
  const { problems } = check;
  if (problems.length === 1) throw loadError(who, file, problems[0]!);
  // Only the ABI check finds more than one problem.
  throw loadError(who, file, `${problems.length} ABI problems:`, problems.map((p) => `  - ${p}`));
}

/**
 * Fuel-instruments through the on-disk cache, capping memory in the same rewrite; `checkOutput`
 * validates the result before it is cached. `startFuel`
 * meters a wasm start section, which runs during instantiation before the host can set a budget.
 * `profile` asks for the profiling build (a separate cache entry).
 */
export async function instrumentForRun(
  prepared: Prepared,
  cacheDir: string,
  who: string,
  file: string,
  startFuel: bigint,
  profile = false,
  checkOutput = false,
): Promise<{ bytes: Uint8Array; offsets: () => OffsetMap; discard: () => void }> {
  const fuel = await import('../fuel/index.js');
  try {
    const r = await fuel.instrumentCached(prepared.bytes, cacheDir, {
      initialFuel: startFuel,
      maxMemoryPages: prepared.maxMemoryPages,
      module: prepared.module,
      // checkModule validated the bytes: the instrumenter need not again. Nor the output, unless
      // asked: the caller compiles it next, which validates it (see meterAndCompile).
      inputValidated: true,
      checkOutput,
      ...(profile ? { profile: true } : {}),
    });
    return { bytes: r.bytes, offsets: r.offsets, discard: r.discard };
  } catch (err) {
    if (err instanceof WasmFormatError || err instanceof fuel.InstrumenterBug) throw loadError(who, file, `fuel instrumentation failed: ${err.message}`);
    throw err;
  }
}

export async function compileModule(bytes: Uint8Array, who: string, file: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    throw loadError(who, file, compileMessage(err).message);
  }
}
