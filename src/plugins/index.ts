/** The plugin engine's public API: start plugins from config entries, and keep them running. */
export { checkPluginModule, createPluginEngine, inspectPluginFile, type CallRecorder, type PluginEngine, type PluginEngineOptions } from './engine.js';
export { PluginSupervisor, type ApplySummary, type DropRecorder, type SupervisorDeps } from './supervisor.js';
export { HookQueue, QueuedEvent, type QueuedHookArgs } from './hook-queue.js';
export { defaultPluginConfig } from '../runtime/index.js';
export { inspectWasm, loadPlugin, WORKER_ENTRY, type HostLoadOptions } from './load.js';
