/**
 * The runtime's loader bound to the host: the import table a module is checked against comes
 * from the capability registry, and the worker entry hands the same capabilities to the worker.
 */
import { HOST_IMPORTS } from '../host/registry.js';
import type { PluginConfig } from '../config/types.js';
import {
  checkPlugin as checkWith,
  inspectWasm as inspectWith,
  loadPlugin as loadWith,
  type PluginCheck,
  type PluginHost,
  type WasmReport,
} from '../runtime/index.js';
import type { LoadOptions } from '../runtime/types.js';

/**
 * The worker thread's entry (runtime + host capabilities); a URL, as worker_threads wants. The
 * one-file CommonJS bundle of ./worker-entry.ts that `npm run build` writes (scripts/bundle.js).
 */
export const WORKER_ENTRY = new URL('./worker-entry.cjs', import.meta.url);

export type HostLoadOptions = Omit<LoadOptions, 'imports' | 'workerEntry'> & Partial<Pick<LoadOptions, 'workerEntry'>>;

/** `runtime.loadPlugin` with the registry's import table and worker entry. */
export function loadPlugin(opts: HostLoadOptions): Promise<PluginHost> {
  return loadWith({ ...opts, workerEntry: opts.workerEntry ?? WORKER_ENTRY, imports: HOST_IMPORTS });
}

/** Reads and checks a module against the registry's import table without running anything. */
export function inspectWasm(bytes: Uint8Array): WasmReport {
  return inspectWith(bytes, HOST_IMPORTS);
}

/**
 * Every check loading makes (file, parse, ABI against the registry, memory cap, instrumenting,
 * compiling) without starting a worker; problems come back as a list. For `bext config check`.
 */
export function checkPlugin(plugin: PluginConfig, stateDir: string): Promise<PluginCheck> {
  return checkWith({ plugin, stateDir, imports: HOST_IMPORTS });
}
