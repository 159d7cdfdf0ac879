/**
 * The plugin engine: the one place a plugin's config entry becomes a running plugin. The runtime's
 * loadPlugin reads the module, checks it against the ABI, instruments it (cached on disk under
 * `<stateDir>/cache/`) and starts its worker; the engine adds what the host owes a running plugin:
 * its http_fetch handler (closed with it), and where its call results, metrics, refused fetches
 * and log lines go. The engine also keeps each plugin's fetch rate-limit bucket across restarts of
 * that plugin (see fetchBucket), so a reload never refills it. `bext dev` (through the supervisor) and `bext plugin run` start plugins here;
 * `bext plugin inspect` and `bext config check` read modules here without starting them.
 */
import { performance } from 'node:perf_hooks';
import type { PluginConfig } from '../config/types.js';
import { createFetchHandler, type FetchHandler } from '../host/fetch/index.js';
import { createTokenBucket, type TokenBucket } from '../host/fetch/rate-limit.js';
import { logger, type Logger } from '../log.js';
import { checkPlugin, inspectWasm, loadPlugin } from './load.js';
import {
  readWasmFile,
  type CallResult,
  type CallTally,
  type HookArgs,
  type LoadOptions,
  type MainOp,
  type MetricSample,
  type PluginCheck,
  type PluginHandle,
  type ProfileRequest,
  type WasmReport,
} from '../runtime/index.js';

/**
 * Where call results and refused fetches are recorded (the stats recorder in `bext dev`).
 * Declared here so the engine does not depend on the stats module that sits above it.
 */
export interface CallRecorder {
  record(result: CallResult): void;
  /** Calls that ended ok, counted together (queued events); without it they come to record() one by one. */
  recordTally?(tally: CallTally): void;
  recordFetchRefused(plugin: string, url: string, reason: string): void;
}

export interface PluginEngineOptions {
  /** `.bext/` folder: the instrumented-module cache and state.db live here. */
  stateDir: string;
  /** Receives every call result and refused fetch; omitted by one-off runs. */
  recorder?: CallRecorder;
  /** Receives every `emit_metric` sample. */
  onMetric?(sample: MetricSample): void;
  log?: Logger;
  /** Passed through to the runtime: how the plugin's own output is collected and logged. */
  logging?: Pick<LoadOptions, 'onLog' | 'logLevel' | 'logOutcomes'>;
  /** Which plugins to load as profiling builds, and which of their calls to profile (profiles.ts). */
  profile?: (plugin: PluginConfig) => ProfileRequest | undefined;
}

export interface PluginEngine {
  /**
   * Loads the plugin and starts its worker; no hook runs (the caller runs on_server_start).
   * Throws BextError when the module cannot be loaded. close() on the handle also closes the
   * plugin's fetch handler.
   */
  start(plugin: PluginConfig): Promise<PluginHandle>;
}

export function createPluginEngine(opts: PluginEngineOptions): PluginEngine {
  const log = opts.log ?? logger();
  const { recorder } = opts;
  const onCall = recorder
    ? (r: CallResult): void => {
        try {
          recorder.record(r);
        } catch (err) {
          log.error({ err }, 'recording a hook call failed');
        }
      }
    : undefined;
  const onTally = recorder?.recordTally
    ? (t: CallTally): void => {
        try {
          recorder.recordTally!(t);
        } catch (err) {
          log.error({ err }, 'recording hook calls failed');
        }
      }
    : undefined;
  const onRefused = recorder ? (plugin: string, url: string, reason: string) => recorder.recordFetchRefused(plugin, url, reason) : undefined;
  const buckets = new Map<string, { perMinute: number; bucket: TokenBucket }>();

  /**
   * The plugin's max_fetch_per_minute bucket, the same one for every start of the same plugin:
   * a reload (POST /__bext/reload, a new .wasm, a worker replaced after a timeout) would
   * otherwise hand the plugin a full bucket, and whoever can trigger reloads could multiply
   * its rate. A changed max_fetch_per_minute starts a new bucket at the new rate: only an edit
   * of the config file does that.
   */
  function fetchBucket(plugin: PluginConfig): TokenBucket {
    const perMinute = plugin.permissions.max_fetch_per_minute;
    const kept = buckets.get(plugin.name);
    if (kept && kept.perMinute === perMinute) return kept.bucket;
    const bucket = createTokenBucket(perMinute, () => performance.now());
    buckets.set(plugin.name, { perMinute, bucket });
    return bucket;
  }

  async function start(plugin: PluginConfig): Promise<PluginHandle> {
    const fetch = createFetchHandler(plugin, { bucket: fetchBucket(plugin), ...(onRefused ? { onRefused } : {}) });
    let handle: PluginHandle;
    const profile = opts.profile?.(plugin);
    try {
      handle = await loadPlugin({
        ...(profile ? { profile } : {}),
        ...opts.logging,
        plugin,
        stateDir: opts.stateDir,
        ...(onCall ? { onCall } : {}),
        ...(onTally ? { onTally } : {}),
        ...(opts.onMetric ? { onMetric: opts.onMetric } : {}),
        // Refused fetches are reported once, by the fetch handler (onRefused above).
        onMainCall: (_plugin, op, payload) => mainCall(fetch, op, payload),
      });
    } catch (err) {
      await fetch.close().catch(() => {});
      throw err;
    }
    return withFetch(handle, fetch);
  }

  return { start };
}

function mainCall(fetch: FetchHandler, op: MainOp, payload: string): Promise<string> {
  if (op === 'http_fetch') return fetch(payload);
  return Promise.resolve(JSON.stringify({ status: 0, error: `unknown host operation ${String(op)}` }));
}

/** The runtime's handle, with close() also dropping the plugin's pooled fetch connections. */
function withFetch(handle: PluginHandle, fetch: FetchHandler): PluginHandle {
  const batch = handle.callBatch?.bind(handle);
  const queued = handle.callQueued?.bind(handle);
  const cancel = handle.cancelBatch?.bind(handle);
  return {
    // The same object the runtime updates (state, priority, errors after a worker restart).
    info: handle.info,
    call: (args: HookArgs) => handle.call(args),
    ...(batch ? { callBatch: batch } : {}),
    ...(queued ? { callQueued: queued } : {}),
    ...(cancel ? { cancelBatch: cancel } : {}),
    async close(): Promise<void> {
      await Promise.allSettled([handle.close(), fetch.close()]);
    },
  };
}

/** Reads a module and reports its imports, exports, hooks and ABI problems, without running it. */
export async function inspectPluginFile(file: string, who = 'plugin inspect'): Promise<WasmReport> {
  return inspectWasm(await readWasmFile(file, who));
}

/**
 * Runs every check loading a configured plugin makes, without starting it: what `bext config
 * check` reports. Warnings (no hooks, a command module) do not stop a plugin loading.
 */
export function checkPluginModule(plugin: PluginConfig, stateDir: string): Promise<PluginCheck> {
  return checkPlugin(plugin, stateDir);
}
