/**
 * The dev server's view of the other parts of bext: config loading, the plugin runtime, host
 * fetch + metrics, stats. They are imported lazily here, in one place, so `bext --help` pays
 * for none of them and each is wired by one line.
 */
import type { PluginConfig, ResolvedConfig } from '../config/types.js';
import type { LoadOptions, MetricSample, PluginHandle } from '../runtime/types.js';
import type { MainOp } from '../runtime/services.js';
import type { StatsRecorder } from '../stats/index.js';
import { BextError } from '../errors.js';

export type ParseResult = { ok: true; config: ResolvedConfig } | { ok: false; error: BextError };

export interface ConfigApi {
  loadConfig(file: string, opts?: { checkFiles?: boolean }): ResolvedConfig;
  parseConfig(text: string, file: string, opts?: { checkFiles?: boolean }): ParseResult;
}

/** LoadOptions plus the main-thread handler for operations a worker asks for (http_fetch). */
export type ServerLoadOptions = LoadOptions & {
  onMainCall?(plugin: string, op: MainOp, payload: string): Promise<string>;
};

export type LoadPlugin = (opts: ServerLoadOptions) => Promise<PluginHandle>;

export interface Metrics {
  record(sample: MetricSample): void;
  render(): Promise<string>;
}

export type FetchHandler = (requestJson: string) => Promise<string>;
export type CreateFetchHandler = (
  plugin: PluginConfig,
  opts: { onRefused?(plugin: string, url: string, reason: string): void },
) => FetchHandler;

// Specifiers are kept in variables so the compiler does not require the modules at build time.
async function importOptional<T>(specifier: string): Promise<T | null> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
}

const CONFIG = '../config/index.js';
const RUNTIME = '../runtime/index.js';
const METRICS = '../host/metrics.js';
const FETCH = '../host/fetch/index.js';

export async function configApi(): Promise<ConfigApi> {
  const mod = await importOptional<ConfigApi>(CONFIG);
  if (!mod) throw new BextError('unavailable', 'the config loader is not available in this build', { blame: 'host', exitCode: 1 });
  return mod;
}

export async function pluginLoader(): Promise<LoadPlugin> {
  const mod = await importOptional<{ loadPlugin: LoadPlugin }>(RUNTIME);
  if (!mod) {
    return async (opts) => {
      throw new BextError('unavailable', `cannot load ${opts.plugin.name}: the plugin runtime is not available in this build`, { blame: 'host' });
    };
  }
  return mod.loadPlugin;
}

export async function metricsFactory(): Promise<() => Metrics> {
  const mod = await importOptional<{ createMetrics: () => Metrics }>(METRICS);
  if (!mod) return () => ({ record: () => {}, render: async () => '' });
  return mod.createMetrics;
}

export async function fetchHandlerFactory(): Promise<CreateFetchHandler> {
  const mod = await importOptional<{ createFetchHandler: CreateFetchHandler }>(FETCH);
  if (!mod) return () => async () => JSON.stringify({ status: 0, error: 'network not available in this build' });
  return mod.createFetchHandler;
}

export async function statsRecorder(dbPath: string): Promise<StatsRecorder> {
  const { openStats } = await import('../stats/index.js');
  return openStats({ dbPath });
}
