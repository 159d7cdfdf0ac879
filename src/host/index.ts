/**
 * The host layer's entry points: the capability registry, and the runtime's loader bound to it
 * (the import table the module is checked against, and the worker entry that hands the same
 * capabilities to the worker). Callers pass the rest of LoadOptions as before.
 */
import { inspectWasm as inspectWith, type WasmReport } from '../runtime/loader.js';
export type { WasmReport };
import { loadPlugin as loadWith, type PluginHost } from '../runtime/index.js';
import type { LoadOptions } from '../runtime/types.js';
import { HOST_IMPORTS } from './registry.js';

export { CAPABILITIES, HOST_IMPORTS } from './registry.js';
export { defaultPluginConfig } from '../runtime/index.js';

/**
 * The worker thread's entry. It lives in the plugins layer because it composes runtime and host;
 * this is its URL, not an import, so nothing here depends on that layer.
 */
export const WORKER_ENTRY = new URL('../plugins/worker-entry.js', import.meta.url);

export type HostLoadOptions = Omit<LoadOptions, 'imports' | 'workerEntry'> & Partial<Pick<LoadOptions, 'workerEntry'>>;

/** `runtime.loadPlugin` with the registry's import table and worker entry. */
export function loadPlugin(opts: HostLoadOptions): Promise<PluginHost> {
  return loadWith({ ...opts, workerEntry: opts.workerEntry ?? WORKER_ENTRY, imports: HOST_IMPORTS });
}

/** Reads and checks a module against the registry's import table without running anything. */
export function inspectWasm(bytes: Uint8Array): WasmReport {
  return inspectWith(bytes, HOST_IMPORTS);
}
