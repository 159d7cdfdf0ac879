/**
 * `createDevServer()`: the dev server as a library (the `bext dev` command and the tests both
 * use it). Start order: listen → load plugins in parallel (stats open meanwhile) →
 * on_server_start in priority order → watch (→ stats, without plugins); it resolves after all of
 * them. The site is answered from the moment it listens, so the first response waits for neither
 * the plugins nor stats (bench/startup.bench.js); events of requests answered before the plugins
 * have started reach them afterwards. Requests are answered from the response cache, the static
 * root and/or the upstream (request.ts); hooks run afterwards on per-plugin queues, never on the
 * request path.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config/types.js';
import type { ParseResult } from '../config/index.js';
import { createMetrics } from '../host/metrics/prometheus.js';
import { logger, tapLogs, type Logger } from '../log.js';
import { createPluginEngine } from '../plugins/engine.js';
import { PluginSupervisor } from '../plugins/supervisor.js';
import { profilerFromEnv } from '../plugins/profiles.js';
import type { PluginInfo } from '../runtime/index.js';
import { openStats, openStatsLater } from '../stats/index.js';
import { createAdminContext } from './admin-context.js';
import { createDevBuilds } from './builds.js';
import { createLiveFeed } from './live-feed.js';
import { createLiveReload } from './live-reload.js';
import { historyEvents, logEvents } from './live-events.js';
import { PluginHistory } from './plugin-history.js';
import { trackEngine } from './tracked-engine.js';
import type { ServerContext } from './context.js';
import { createHttpServer, formatUrl, listen } from './listen.js';
import { createServerMetrics } from './metrics.js';
import { createOrigins } from './origins.js';
import { createReloader } from './reload.js';
import { createRequestHandler } from './request.js';
import { shutdown } from './shutdown.js';
import { createSiteCache } from './site-cache.js';
import { statsDbPath } from '../stats/store.js';
import { prepareStatsFile } from '../stats/prepare.js';
import { prepareStateDb } from './state-files.js';

export interface DevServerOptions {
  /** Overrides server.port (0 = any free port). */
  port?: number;
  /** Overrides server.host. */
  host?: string;
  /** Hot reload on file changes (default true). */
  watch?: boolean;
  log?: Logger;
  /** Called as each plugin finishes loading (for a progress line on a TTY). */
  onProgress?(done: number, total: number, name: string): void;
  /** Re-validates the config file for hot reload; defaults to the config module's parseConfig. */
  reparse?(file: string): ParseResult | Promise<ParseResult>;
  /** Overrides server.shutdown_drain_ms: how long shutdown waits for responses and queued events (ms). */
  drainTimeoutMs?: number;
}

export interface DevServer {
  url: string;
  host: string;
  port: number;
  /** Problems found while starting (plugins skipped, settings that need attention). */
  warnings: string[];
  startMs: number;
  config(): ResolvedConfig;
  plugins(): PluginInfo[];
  /** Stops accepting, finishes in-flight responses, drains events, stops plugins, flushes stats. Idempotent. */
  close(reason?: string): Promise<void>;
}

export async function createDevServer(config: ResolvedConfig, opts: DevServerOptions = {}): Promise<DevServer> {
  const started = performance.now();
  const log = opts.log ?? logger();
  const host = opts.host ?? config.server.host;
  const wantPort = opts.port ?? config.server.port;
  // Read at shutdown, so an edited server.shutdown_drain_ms applies without a restart.
  const drainMs = (): number => opts.drainTimeoutMs ?? ctx.config.server.shutdown_drain_ms;

  // BEXT_PROFILE=NAME[:HOOK][:N] profiles live calls (docs/debugging.md); a bad value exits 2 here.
  const profile = profilerFromEnv(process.env.BEXT_PROFILE, { stateDir: config.stateDir, log, plugins: config.plugins.map((p) => p.name) });
  // Damaged state files are set aside before anything opens them (never a reason not to start):
  // state.db before the plugins start, stats.db when stats open. Both happen after listening.
  const stateWarnings: string[] = [];
  let stateDbChecked = false;
  const checkStateDb = (): void => {
    if (stateDbChecked) return;
    stateDbChecked = true;
    for (const w of prepareStateDb(config.stateDir)) {
      log.warn(w);
      stateWarnings.push(w);
    }
  };
  const stats = openStatsLater(() => {
    checkStateDb();
    for (const w of prepareStatsFile(config.stateDir)) {
      log.warn(w);
      stateWarnings.push(w);
    }
    return openStats({ dbPath: statsDbPath(config.stateDir) });
  });
  const pluginMetrics = createMetrics();
  // The dashboard's sources: versions and figures per load (tracked-engine.ts), the live stream.
  const feed = createLiveFeed();
  const history = new PluginHistory(historyEvents(feed));
  const untapLogs = tapLogs(logEvents(feed));
  const engine = trackEngine(
    createPluginEngine({
      stateDir: config.stateDir,
      recorder: stats,
      onMetric: (s) => pluginMetrics.record(s),
      log,
      ...(profile ? { profile } : {}),
    }),
    history,
  );
  const plugins = new PluginSupervisor({ engine, drops: stats, log });
  const cache = createSiteCache(config, plugins);
  // Without a watcher no change would ever be announced: pages are then served as they are.
  const watching = opts.watch !== false;
  const liveReload = createLiveReload({ enabled: () => watching && ctx.config.server.live_reload });
  let pluginsStarted!: () => void;
  const ctx: ServerContext = {
    config,
    started: new Promise<void>((resolve) => (pluginsStarted = resolve)),
    listenHost: host,
    closing: false,
    warnings: [],
    log,
    plugins,
    cache,
    origins: createOrigins(log, () => liveReload.injection()),
    metrics: createServerMetrics({ cache: cache.store, plugins, pluginMetrics: () => pluginMetrics.render() }),
  };
  await ctx.origins.apply(config, ctx.warnings);
  ctx.warnings.push(...configWarnings(config, host));

  // Build on save ([plugins.NAME.build]); builds run only under watch, or once here when a .wasm is out of date.
  const builds = createDevBuilds({ log, plugins, configs: () => ctx.config.plugins });
  const reloader = createReloader(ctx, {
    ...opts,
    onSiteChange: (files) => liveReload.siteChanged(files),
    ...(opts.watch !== false ? { builds } : {}),
  });
  let url = '';
  const startedAt = Date.now();
  const requests = createRequestHandler(ctx, createAdminContext(ctx, { stats, reloader, history, feed, liveReload, startedAt }, () => url));
  const anyPlugins = config.plugins.some((p) => p.enabled);
  // Events of requests answered before the plugins have started wait for them (supervisor.ts).
  if (anyPlugins) plugins.holdEvents();
  const http = createHttpServer(ctx, requests);
  let port: number;
  try {
    port = await listen(http.server, wantPort, host);
  } catch (err) {
    feed.close();
    liveReload.close();
    untapLogs();
    await shutdown('listen failed', { ctx, reloader, stats, drainMs: drainMs() }).catch(() => {});
    throw err;
  }
  http.server.on('error', (err) => log.error({ err }, 'HTTP server error'));
  url = formatUrl(host, port);

  // Plugins start while the site is already answered: events of requests answered meanwhile are
  // held and reach each plugin after its on_server_start; the admin API waits.
  const problems: string[] = [];
  try {
    try {
      if (anyPlugins) checkStateDb();
      const starting = startPlugins(builds, plugins, config, opts.onProgress, problems);
      // Awaited below; if stats fail to open first, shutdown waits for it through the supervisor.
      starting.catch(() => {});
      if (anyPlugins) {
        // The plugins' workers boot on their own threads (runtime/plugin-host.ts) while this
        // one would wait: stats open then. Calls recorded before are kept until it has.
        await new Promise<void>((resolve) => setImmediate(resolve));
        stats.open();
      }
      await starting;
    } finally {
      pluginsStarted();
    }
    if (watching) await reloader.watch();
    // Without plugins nothing is recorded at start: stats open after the first answers can go out.
    stats.open();
  } catch (err) {
    feed.close();
    liveReload.close();
    untapLogs();
    await shutdown('start-up failed', { ctx, reloader, stats, http, requests, drainMs: drainMs() }).catch(() => {});
    throw err;
  }
  ctx.warnings.push(...stateWarnings, ...problems);
  try {
    // The first stats read (the dashboard, `bext plugin stats`) should not pay for decoding them.
    stats.warm();
  } catch (err) {
    log.warn({ err }, 'stats: could not read the stored totals');
  }

  let closing: Promise<void> | null = null;
  return {
    url,
    host,
    port,
    warnings: ctx.warnings,
    startMs: Math.round(performance.now() - started),
    config: () => ctx.config,
    plugins: () => plugins.infos(),
    close(reason = 'close'): Promise<void> {
      // Event streams never end on their own: end them first, so shutdown does not wait on them.
      feed.close();
      liveReload.close();
      untapLogs();
      closing ??= shutdown(reason, { ctx, reloader, stats, http, requests, drainMs: drainMs() });
      return closing;
    },
  };
}

/** Builds stale plugins ([plugins.NAME.build]), then loads and starts every plugin; problems go to `problems`. */
async function startPlugins(
  builds: ReturnType<typeof createDevBuilds>,
  plugins: PluginSupervisor,
  config: ResolvedConfig,
  onProgress: DevServerOptions['onProgress'],
  problems: string[],
): Promise<void> {
  const buildFailures = await builds.buildStale(config.plugins);
  problems.push(...(await plugins.start(config.plugins, onProgress)));
  for (const [name, error] of buildFailures) {
    plugins.markBuildFailed(name, error);
    problems.push(`plugin ${name}: the build failed (${error.split('\n')[0]}); see the compiler output above`);
  }
}

/** Settings that work but deserve a line in the banner. */
function configWarnings(config: ResolvedConfig, host: string): string[] {
  const out: string[] = [];
  if (!/^(127\.|::1$|localhost$)/.test(host)) {
    out.push(`listening on ${host}: the site is reachable from other machines (the admin API still answers loopback only)`);
  }
  if (!config.server.root && !config.server.upstream) {
    out.push('neither server.root nor server.upstream is set: every page will be a 404');
  }
  return out;
}
