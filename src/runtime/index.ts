/**
 * Public API of the plugin runtime. The plugin engine (src/plugins/) uses only what is exported
 * here: `loadPlugin` gives a PluginHandle whose `call` runs one hook in the plugin's worker.
 */
import path from 'node:path';
import { BextError } from '../errors.js';
import { DEFAULT_FUEL, type PluginConfig } from '../config/types.js';
import { compileModule, instrumentForRun, prepareModule, readWasmFile } from './loader.js';
import { PluginHost } from './plugin-host.js';
import { createSymbolizer } from './frames/symbolize.js';
import { DEFAULTS } from '../config/schema.js';
import { readFunctionNames } from '../wasm/index.js';
import type { LoadOptions } from './types.js';

export { inspectWasm, readWasmFile, type WasmReport } from './loader.js';
export type { MainOp } from './types.js';
export { HOOK_PARAMS, ALLOCATORS, DEALLOCATORS } from './abi-table.js';
export type { Capability, HostImportSpec, ImportTable } from './capability.js';
export { PluginHost, type WorkerStats } from './plugin-host.js';
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
  const raw = await readWasmFile(p.path, who);
  const prepared = prepareModule(raw, p.path, who, p.limits.max_memory_mb, opts.imports);
  // A start section runs at instantiation, under the on_server_start budget like `_initialize`.
  const startFuel = BigInt(p.fuel.on_server_start);
  const profile = opts.profile !== undefined;
  const metered = await instrumentForRun(prepared, path.join(opts.stateDir, 'cache'), who, p.path, startFuel, profile);
  const module = await compileModule(metered.bytes, who, p.path);
  const symbolize = createSymbolizer({ bytes: prepared.bytes, module: prepared.module, offsets: metered.offsets });
  // A profile names functions by the name section, else by export (a stripped module's exports).
  const profileNames = profile ? { ...prepared.functionNames, ...readFunctionNames(prepared.bytes, prepared.module) } : undefined;
  const host = new PluginHost(opts, module, prepared.summary, prepared.functionNames, symbolize, profileNames);
  try {
    await host.start();
  } catch (err) {
    throw new BextError('plugin_init_failed', `${who}: ${(err as Error).message}`, { cause: err });
  }
  return host;
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
