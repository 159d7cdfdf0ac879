/**
 * Every host capability, in ABI order. Adding one means a folder under src/host/ with its
 * `capability.ts` and a line here: the loader's import table and each worker's import object are
 * derived from this list.
 */
import { importTable, type Capability, type ImportTable } from '../runtime/capability.js';
import { config } from './config/capability.js';
import { fetch } from './fetch/capability.js';
import { kv } from './kv/capability.js';
import { log } from './log/capability.js';
import { metrics } from './metrics/capability.js';
import { queues } from './queues/capability.js';
import { storage } from './storage/capability.js';

export const CAPABILITIES: readonly Capability[] = Object.freeze([log, storage, fetch, config, metrics, kv, queues]);

/** The `"bext"` imports every plugin is checked against at load (docs/abi.md). */
export const HOST_IMPORTS: ImportTable = importTable(CAPABILITIES);
