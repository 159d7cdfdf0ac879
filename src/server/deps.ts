/**
 * The dev server's view of the other parts of bext: config loading, the plugin runtime, host
 * fetch + metrics, stats. Each is imported lazily, in one place, so `bext --help` pays for
 * none of them and the server's tests can see every seam at a glance.
 */
import type { PluginConfig } from '../config/types.js';
import type { ParseResult } from '../config/index.js';
import type { MetricSample, PluginHandle } from '../runtime/types.js';
import type { HostLoadOptions } from '../host/index.js';
import type { StatsRecorder } from '../stats/index.js';

export type { ParseResult };

export interface ConfigApi {
  parseConfig(text: string, file: string): ParseResult;
}

export type LoadPlugin = (opts: HostLoadOptions) => Promise<PluginHandle>;

export interface Metrics {
  record(sample: MetricSample): void;
  render(): Promise<string>;
}

/** Answers a plugin's http_fetch on the main thread; close() drops its pooled connections. */
export type FetchHandler = ((requestJson: string) => Promise<string>) & { close?(): Promise<void> };
export type CreateFetchHandler = (
  plugin: PluginConfig,
  opts: { onRefused?(plugin: string, url: string, reason: string): void },
) => FetchHandler;

export async function configApi(): Promise<ConfigApi> {
  return import('../config/index.js');
}

export async function pluginLoader(): Promise<LoadPlugin> {
  return (await import('../host/index.js')).loadPlugin;
}

export async function metricsFactory(): Promise<() => Metrics> {
  return (await import('../host/metrics/prometheus.js')).createMetrics;
}

export async function fetchHandlerFactory(): Promise<CreateFetchHandler> {
  return (await import('../host/fetch/index.js')).createFetchHandler;
}

export async function statsRecorder(dbPath: string): Promise<StatsRecorder> {
  const { openStats } = await import('../stats/index.js');
  return openStats({ dbPath });
}
