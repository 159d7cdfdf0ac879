/**
 * Hot reload: watches the config, the plugins' .wasm files and the static root, and applies each
 * batch of changes. A changed config is re-validated (an invalid one is logged and the running
 * config stays), then origins, cache and plugins follow it; a changed .wasm reloads that plugin
 * alone; changed site files clear the cache and send on_reload. `POST /__bext/reload` re-reads
 * the config and reloads every plugin.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig, type ParseResult } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { BextError } from '../errors.js';
import type { ApplySummary } from '../plugins/supervisor.js';
import type { DevBuilds } from './builds.js';
import type { ServerContext } from './context.js';
import { createWatcher, type ChangeBatch, type Watcher, type WatchTargets } from './watcher.js';

export type ConfigApplied = { ok: true; summary: ApplySummary } | { ok: false; error: BextError };

export interface ReloadOptions {
  /** Re-validates the config file; defaults to reading it and running the config parser. */
  reparse?(file: string): ParseResult | Promise<ParseResult>;
  /** Listen address given on the command line (a config change to it is then not worth a warning). */
  port?: number;
  host?: string;
  /** Site files changed and the cache was cleared (browser live reload). */
  onSiteChange?(files: ReadonlySet<string>): void;
  /** Build on save (builds.ts): builds new plugins before they load, and owns its own .wasm writes. */
  builds?: DevBuilds;
}

export interface Reloader {
  /** Re-reads the config file and applies it; `reloadAll` reloads every plugin even if unchanged. */
  applyConfigFile(reloadAll: boolean): Promise<ConfigApplied>;
  /** Starts watching files; resolves once the initial scan is done. */
  watch(): Promise<void>;
  close(): Promise<void>;
}

function readAndParse(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, error: new BextError('config_unreadable', `cannot read ${file}: ${(err as Error).message}`) };
  }
  return parseConfig(text, file);
}

function describe(summary: ApplySummary): string {
  const parts = [
    summary.added.length ? `added ${summary.added.join(', ')}` : '',
    summary.removed.length ? `removed ${summary.removed.join(', ')}` : '',
    summary.reloaded.length ? `reloaded ${summary.reloaded.join(', ')}` : '',
    summary.failed.length ? `failed ${summary.failed.map((f) => f.name).join(', ')}` : '',
  ].filter(Boolean);
  return `config applied${parts.length ? `: ${parts.join('; ')}` : ' (plugins unchanged, on_reload sent)'}`;
}

export function createReloader(ctx: ServerContext, opts: ReloadOptions = {}): Reloader {
  const { log, plugins, cache } = ctx;
  const reparse = opts.reparse ?? readAndParse;
  let watcher: Watcher | null = null;

  const targets = (): WatchTargets => ({
    configFile: ctx.config.file,
    wasm: plugins.wasmPaths(),
    root: ctx.config.server.root,
    ignore: [ctx.config.stateDir],
  });

  function warnListenChanges(prev: ResolvedConfig, next: ResolvedConfig): void {
    if (opts.port === undefined && next.server.port !== prev.server.port) {
      log.warn(`server.port changed to ${next.server.port}; restart bext dev to listen there`);
    }
    if (opts.host === undefined && next.server.host !== prev.server.host) {
      log.warn(`server.host changed to ${next.server.host}; restart bext dev to listen there`);
    }
  }

  async function applyConfigFile(reloadAll: boolean): Promise<ConfigApplied> {
    const parsed = await reparse(ctx.config.file);
    if (!parsed.ok) {
      const details = parsed.error.details.length > 0 ? `\n${parsed.error.details.join('\n')}` : '';
      log.error(`config change not applied, the running config stays: ${parsed.error.message}${details}`);
      return parsed;
    }
    const prev = ctx.config;
    const next = parsed.config;
    warnListenChanges(prev, next);
    // A plugin added with a build table (bext new plugin while bext dev runs) is built before it loads.
    const known = new Set(prev.plugins.filter((p) => p.enabled).map((p) => p.name));
    const buildFailures = await opts.builds?.buildStale(next.plugins.filter((p) => !known.has(p.name)));
    const cacheChanged = JSON.stringify(next.cache) !== JSON.stringify(prev.cache);
    const originChanged = next.server.root !== prev.server.root || next.server.upstream !== prev.server.upstream;
    const tagChanged = next.server.live_reload !== prev.server.live_reload;
    ctx.config = next;
    // Pages are cached with or without the live-reload tag, which follows ctx.config: clear in the
    // same tick, so no request sees the new setting and a cached page of the other kind. (And
    // once more below, for a page that was being served while the origins were re-applied.)
    if (tagChanged) cache.clear();
    await ctx.origins.apply(next, ctx.warnings);
    if (cacheChanged) cache.resize(next);
    if (cacheChanged || originChanged || tagChanged || reloadAll) cache.clear();
    const summary = await plugins.applyConfig(next.plugins, { reloadAll });
    for (const [name, error] of buildFailures ?? []) plugins.markBuildFailed(name, error);
    watcher?.update(targets());
    opts.builds?.update(next.plugins);
    log.info(describe(summary));
    return { ok: true, summary };
  }

  async function onBatch(batch: ChangeBatch): Promise<void> {
    if (ctx.closing) return;
    const reloaded = new Set<string>();
    if (batch.config) {
      const r = await applyConfigFile(false);
      if (r.ok) for (const n of [...r.summary.reloaded, ...r.summary.added]) reloaded.add(n);
    }
    for (const file of batch.wasm) {
      const name = plugins.pluginForPath(file);
      if (!name || reloaded.has(name)) continue;
      // A build bext ran wrote it, and reloads the plugin itself once the build is done.
      if (opts.builds?.ownsWasmChange(name, file)) continue;
      log.info(`${path.relative(process.cwd(), file) || file} changed: reloading plugin ${name}`);
      await plugins.reload(name);
      reloaded.add(name);
    }
    if (batch.wasm.size > 0) watcher?.update(targets());
    if (batch.site.size > 0) {
      const n = cache.store.size;
      cache.clear();
      // After the clear: a page that reloads at once must not get the old copy from the cache.
      opts.onSiteChange?.(batch.site);
      log.info(`${batch.site.size} site file(s) changed: cache cleared (${n} entries), on_reload sent`);
      await plugins.notifyReload();
    }
  }

  return {
    applyConfigFile,
    async watch() {
      watcher = await createWatcher(targets(), onBatch, { log });
      await watcher.ready;
      await opts.builds?.watch();
    },
    async close() {
      await opts.builds?.close();
      await watcher?.close().catch(() => {});
    },
  };
}
