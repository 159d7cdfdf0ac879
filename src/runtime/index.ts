/**
 * Public API of the plugin runtime. The plugin engine (src/plugins/) uses only what is exported
 * here: `loadPlugin` gives a PluginHandle whose `call` runs one hook in the plugin's worker.
 */
import path from 'node:path';
import { BextError, isBextError } from '../errors.js';
import { DEFAULT_FUEL, type PluginConfig } from '../config/types.js';
import { checkModule, compileModule, instrumentForRun, prepareModule, readWasmFile, type Prepared } from './loader.js';
import type { ImportTable } from './capability.js';
import { bootWorker, PluginHost } from './plugin-host.js';
import { createSymbolizer } from './frames/symbolize.js';
import { shareMemories } from './shared-memory.js';
import { DEFAULTS } from '../config/schema.js';
import { readFunctionNames } from '../wasm/index.js';
import type { LoadOptions } from './types.js';
import type { OffsetMap } from '../fuel/index.js';

export { inspectWasm, readWasmFile, type WasmReport } from './loader.js';
export type { MainOp } from './types.js';
export { HOOK_PARAMS, ALLOCATORS, DEALLOCATORS } from './abi-table.js';
export type { Capability, HostImportSpec, ImportTable } from './capability.js';
export { PluginHost, type WorkerStats } from './plugin-host.js';
export { tallyCalls, wholeValue } from './tally.js';
export type * from './types.js';
export type { CallProfile } from './profiler.js';
export { functionTable, mergeProfiles, profileTotal, selfFuel, toFolded, toSpeedscope, type FunctionRow } from './profile-report.js';
export { shownStack, formatFrame, type GuestFrame, type StackRow } from './frames/symbolize.js';
export { demangle } from './frames/demangle.js';

/**
 * Loads, checks, instruments and compiles the plugin's module, starts its worker and runs
 * `_initialize`. Does not run any hook (the caller runs on_server_start).
 * Throws BextError: exit 2 for a bad file / bad wasm / ABI problem, exit 1 when `_initialize` fails.
 */
export async function loadPlugin(opts: LoadOptions): Promise<PluginHost> {
  const p = opts.plugin;
  const who = `plugin "${p.name}"`;
  // The worker boots on its own thread while this one reads, instruments and compiles.
  const booting = bootWorker(opts.workerEntry);
  let host: PluginHost;
  try {
    const raw = await readWasmFile(p.path, who);
    const prepared = prepareModule(raw, p.path, who, p.limits.max_memory_mb, opts.imports);
    const profile = opts.profile !== undefined;
    const { module, offsets } = await meterAndCompile(prepared, p, opts.stateDir, who, profile);
    const symbolize = createSymbolizer({ bytes: prepared.bytes, module: prepared.module, offsets });
    // A profile names functions by the name section, else by export (a stripped module's exports).
    const profileNames = profile ? { ...prepared.functionNames, ...readFunctionNames(prepared.bytes, prepared.module) } : undefined;
    host = new PluginHost(opts, module, prepared.summary, prepared.functionNames, symbolize, profileNames);
  } catch (err) {
    booting.cancel();
    throw err;
  }
  try {
    await host.start(booting);
  } catch (err) {
    throw new BextError('plugin_init_failed', `${who}: ${(err as Error).message}`, { cause: err });
  }
  return host;
}

/** Fuel-instruments (through the cache in `<stateDir>/cache`) and compiles a prepared module. */
async function meterAndCompile(
  prepared: Prepared,
  p: PluginConfig,
  stateDir: string,
  who: string,
  profile: boolean,
): Promise<{ module: WebAssembly.Module; offsets: () => OffsetMap }> {
  // A start section runs at instantiation, under the on_server_start budget like `_initialize`.
  const startFuel = BigInt(p.fuel.on_server_start);
  const cacheDir = path.join(stateDir, 'cache');
  // The cap gave every memory a maximum; sharing it makes memory.grow cheap (see shared-memory.ts).
  const compilable = (bytes: Uint8Array): Uint8Array => (prepared.maxMemoryPages === undefined ? bytes : shareMemories(bytes));
  // The instrumented bytes are validated once, by this compile (over 50 MB a second validation
  // took most of a second). Should V8 refuse them (a rewrite that broke the module, or a cache
  // entry one wrote), the entry goes and the module is instrumented again with its output
  // checked: a broken rewrite then fails with the instrumenter's own error, naming the fault.
  const metered = await instrumentForRun(prepared, cacheDir, who, p.path, startFuel, profile);
  try {
    return { module: await compileModule(compilable(metered.bytes), who, p.path), offsets: metered.offsets };
  } catch {
    metered.discard();
  }
  const checked = await instrumentForRun(prepared, cacheDir, who, p.path, startFuel, profile, true);
  return { module: await compileModule(compilable(checked.bytes), who, p.path), offsets: checked.offsets };
}

/** What checkPlugin found: problems stop the plugin loading; warnings do not. */
export interface PluginCheck {
  problems: string[];
  warnings: string[];
}

/**
 * Every check loadPlugin makes before it starts a worker (read the file, parse, compile, ABI and
 * memory cap, instrument, compile the metered module), for `bext config check`. Nothing runs.
 * The module's faults come back as problems without the plugin/file prefix loading puts on them;
 * only a bext bug throws.
 */
export async function checkPlugin(opts: { plugin: PluginConfig; stateDir: string; imports: ImportTable }): Promise<PluginCheck> {
  const p = opts.plugin;
  const who = `plugin "${p.name}"`;
  const fault = (err: unknown, prefix: string): PluginCheck => {
    if (!isBextError(err) || err.blame !== 'user') throw err;
    const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    return { problems: [message, ...err.details.map((d) => d.replace(/^\s*-\s*/, ''))], warnings: [] };
  };
  let raw: Uint8Array;
  try {
    raw = await readWasmFile(p.path, who);
  } catch (err) {
    return fault(err, `${who}: ${p.path}: `);
  }
  const check = checkModule(raw, p.limits.max_memory_mb, opts.imports);
  if (!check.ok) return { problems: check.problems, warnings: [] };
  try {
    await meterAndCompile(check.prepared, p, opts.stateDir, who, false);
  } catch (err) {
    return fault(err, `${who}: ${path.basename(p.path)}: `);
  }
  return { problems: [], warnings: [...check.prepared.abi.warnings] };
}

/** Defaults used when a plugin runs without a config file (`bext plugin run FILE.wasm`): the config's own. */
export function defaultPluginConfig(file: string): PluginConfig {
  const abs = path.resolve(file);
  const perms = DEFAULTS.permissions;
  return {
    name: path.basename(abs).replace(/\.wasm$/, ''),
    sandbox: DEFAULTS.sandbox,
    path: abs,
    enabled: true,
    priority: null,
    fuel: { ...DEFAULT_FUEL },
    config: {},
    permissions: { ...perms, allowed_urls: [...perms.allowed_urls], kv_namespaces: [...perms.kv_namespaces], queue_names: [...perms.queue_names] },
    limits: { ...DEFAULTS.limits },
  };
}
