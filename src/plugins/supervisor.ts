/**
 * The plugin supervisor: keeps every configured plugin running. It starts them through the plugin
 * engine (in parallel), runs lifecycle hooks in priority order (lower first), feeds each one's
 * hook queue, reloads one plugin or applies a changed config. Lifecycle operations (start,
 * reload, config apply, stop) are serialized; event hooks are not affected by them except for the
 * short pause while a plugin's instance is swapped.
 */
import { performance } from 'node:perf_hooks';
import type { HookName, PluginConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { CallResult, PluginHandle, PluginInfo } from '../runtime/index.js';
import { callArgs, eventLog, hookOf } from '../runtime/event-log.js';
import type { PluginEngine } from './engine.js';
import { DEFAULT_MAX_BATCH, HookQueue, QueuedEvent, type QueuedHookArgs, type QueuedItem, type Shedding } from './hook-queue.js';

const DEFAULT_PRIORITY = 1000;

/** A queue (or the held list) is done with an event of the log. */
const releaseLogged = (seq: number): void => eventLog().release(seq);

type LifecycleHook = 'on_reload' | 'on_server_stop' | 'cleanup';

interface Entry {
  name: string;
  config: PluginConfig;
  /** The running instance (from the engine: closing it also closes its fetch handler). */
  handle: PluginHandle | null;
  info: PluginInfo;
  queue: HookQueue;
  /** Drops not yet handed to stats, per hook (see flushDrops). */
  drops: Partial<Record<HookName, number>> | null;
  /** When the last "slower than the traffic" warning was logged (performance.now()). */
  shedWarnedAt: number;
}

/** A plugin that keeps falling behind is warned about at most this often (stats show every spell). */
const SHED_WARN_EVERY_MS = 60_000;

/** How soon counted drops reach the stats recorder (readers flush first, see flushDrops). */
const DROP_FLUSH_MS = 100;

/**
 * Events held while start() runs (the server answers meanwhile); past this the oldest are dropped
 * and counted, as a full queue would. Start-up takes well under a second; this is a backstop.
 */
const MAX_HELD = 10_000;

/** Where dropped hook calls are counted (the stats recorder in `bext dev`). */
export interface DropRecorder {
  recordDropped(plugin: string, hook: HookName, n: number): void;
  /** The plugin's queue started dropping (until null) or caught up again (until set). */
  recordShedding?(plugin: string, s: Shedding): void;
}

export interface SupervisorDeps {
  engine: PluginEngine;
  drops: DropRecorder;
  log: Logger;
}

/** What a config change did, for the log line and the admin API. */
export interface ApplySummary {
  added: string[];
  removed: string[];
  reloaded: string[];
  failed: { name: string; error: string }[];
  notified: string[];
}

function describeFailure(r: CallResult): string {
  return r.message ? `${r.outcome}: ${r.message}` : r.outcome;
}

function errorText(err: unknown): string {
  const e = err as { message?: string; details?: readonly string[] };
  const first = e?.message ?? String(err);
  return e?.details && e.details.length > 0 ? `${first}\n${e.details.join('\n')}` : first;
}

function byPriority(a: { info: PluginInfo }, b: { info: PluginInfo }): number {
  return a.info.priority - b.info.priority || a.info.name.localeCompare(b.info.name);
}

function placeholderInfo(cfg: PluginConfig, state: PluginInfo['state'], error?: string): PluginInfo {
  const info: PluginInfo = {
    name: cfg.name,
    path: cfg.path,
    state,
    priority: cfg.priority ?? DEFAULT_PRIORITY,
    hooks: [],
    budgets: { ...cfg.fuel },
  };
  if (error !== undefined) info.error = error;
  return info;
}

export class PluginSupervisor {
  private readonly entries = new Map<string, Entry>();
  /** Loaded plugins exporting on_request_complete, in priority order (the per-request hot path). */
  private eventTargets: Entry[] = [];
  private lifecycle: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private dropTimer: NodeJS.Timeout | null = null;
  /**
   * Events that arrived while start() was loading and starting the plugins (null otherwise): they
   * go to the plugins' queues once every on_server_start has run, so a plugin sees every request
   * and on_server_start still comes first.
   */
  private held: QueuedItem[] | null = null;
  private heldDropped = new Map<HookName, number>();

  constructor(private readonly deps: SupervisorDeps) {}

  /** Runs lifecycle operations one at a time. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.lifecycle.then(op, op);
    this.lifecycle = next.catch(() => {});
    return next;
  }

  private newEntry(cfg: PluginConfig, info: PluginInfo): Entry {
    const entry: Entry = {
      name: cfg.name,
      config: cfg,
      handle: null,
      info,
      queue: undefined as unknown as HookQueue,
      drops: null,
      shedWarnedAt: -Infinity,
    };
    entry.queue = new HookQueue(
      cfg.limits.event_queue_size,
      (items) => this.callEntry(entry, items),
      (hook, n) => this.countDrop(entry, hook, n),
      (err) => this.deps.log.error({ err, plugin: cfg.name }, 'event hook call failed in the host'),
      DEFAULT_MAX_BATCH,
      (s) => this.shedding(entry, s),
      releaseLogged,
    );
    return entry;
  }

  /** Runs queued calls on the entry's instance; returns how many ran (see HookCaller). */
  private async callEntry(entry: Entry, items: QueuedItem[]): Promise<number> {
    const handle = entry.handle;
    // No instance (between a failed reload and the next): the calls are skipped, as call() would.
    if (!handle) return items.length;
    if (handle.callQueued) return (await handle.callQueued(items)).ran;
    if (handle.callBatch) return (await handle.callBatch(items.map(callArgs))).length;
    for (const item of items) await handle.call(callArgs(item));
    return items.length;
  }

  /**
   * A full queue drops on every request at saturation, so drops are added up here and handed to
   * stats in one go shortly after (and before anything reads stats), not one by one.
   */
  private countDrop(entry: Entry, hook: HookName, n: number): void {
    const drops = (entry.drops ??= {});
    drops[hook] = (drops[hook] ?? 0) + n;
    if (this.dropTimer === null) {
      this.dropTimer = setTimeout(() => this.flushDrops(), DROP_FLUSH_MS);
      this.dropTimer.unref();
    }
  }

  /** A queue started dropping events (the plugin is slower than the traffic) or caught up. */
  private shedding(entry: Entry, s: Shedding): void {
    this.flushEntryDrops(entry);
    this.deps.drops.recordShedding?.(entry.name, s);
    const now = performance.now();
    if (s.until === null) {
      if (now - entry.shedWarnedAt < SHED_WARN_EVERY_MS) return;
      entry.shedWarnedAt = now;
      this.deps.log.warn(
        { plugin: entry.name, arrivingPerSec: s.arrivingPerSec, deliveredPerSec: s.deliveredPerSec, queue: entry.queue.capacity },
        `plugin ${entry.name} is slower than the traffic: ~${s.arrivingPerSec.toLocaleString('en-US')} events/s arrive, ` +
          `~${s.deliveredPerSec.toLocaleString('en-US')}/s are handled; its queue of ${entry.queue.capacity.toLocaleString('en-US')} is full, ` +
          'so the oldest events are dropped (counted in its stats)',
      );
    } else {
      this.deps.log.info(
        { plugin: entry.name, dropped: s.dropped, droppedPerSec: s.droppedPerSec },
        `plugin ${entry.name} caught up: ${s.dropped.toLocaleString('en-US')} events dropped (~${s.droppedPerSec.toLocaleString('en-US')}/s) ` +
          `over ${((s.until - s.since) / 1000).toFixed(1)} s`,
      );
    }
  }

  /** Hands counted drops to stats now (call before reading stats). */
  flushDrops(): void {
    if (this.dropTimer !== null) {
      clearTimeout(this.dropTimer);
      this.dropTimer = null;
    }
    for (const e of this.entries.values()) this.flushEntryDrops(e);
  }

  private flushEntryDrops(e: Entry): void {
    const drops = e.drops;
    if (drops === null) return;
    e.drops = null;
    for (const [hook, n] of Object.entries(drops) as [HookName, number][]) this.deps.drops.recordDropped(e.name, hook, n);
  }

  private refreshTargets(): void {
    this.eventTargets = [...this.entries.values()]
      .filter((e) => e.handle !== null && e.info.hooks.includes('on_request_complete'))
      .sort(byPriority);
  }

  /** Loads one plugin and runs its on_server_start; on failure the entry is marked failed. */
  private async startEntry(entry: Entry, handle: PluginHandle): Promise<string | null> {
    entry.handle = handle;
    entry.info = { ...handle.info, state: 'loaded' };
    if (!handle.info.hooks.includes('on_server_start')) return null;
    const r = await handle.call({ hook: 'on_server_start', configJson: JSON.stringify(entry.config.config) });
    if (r.outcome === 'ok') return null;
    const error = `on_server_start failed (${describeFailure(r)})`;
    entry.info = { ...handle.info, state: 'failed', error };
    entry.queue.discard();
    await this.closeInstance(entry);
    return error;
  }

  /** Terminates the entry's instance (no hooks run). */
  private async closeInstance(entry: Entry): Promise<void> {
    const handle = entry.handle;
    entry.handle = null;
    await handle?.close().catch(() => {});
  }

  /**
   * Loads every enabled plugin in parallel, then starts them in priority order. Returns problems.
   * Events pushed meanwhile are held and queued once it has finished (see `held`).
   */
  start(configs: readonly PluginConfig[], onProgress?: (done: number, total: number, name: string) => void): Promise<string[]> {
    if (configs.some((c) => c.enabled)) this.holdEvents();
    return this.serial(async () => {
      try {
        return await this.startAll(configs, onProgress);
      } finally {
        this.releaseHeld();
      }
    });
  }

  /** Holds events from now until start() has finished (the server answers before it begins). */
  holdEvents(): void {
    this.held ??= [];
  }

  /** Holds an event while start() runs; false when nothing is starting. */
  private hold(args: QueuedItem): boolean {
    const held = this.held;
    if (held === null) return false;
    if (held.length >= MAX_HELD) {
      const dropped = held.shift()!;
      const hook = hookOf(dropped);
      this.heldDropped.set(hook, (this.heldDropped.get(hook) ?? 0) + 1);
      if (typeof dropped === 'number') releaseLogged(dropped);
    }
    // The held list holds a logged event like a queue (it lets go once the event is queued).
    if (typeof args === 'number') eventLog().retain(args, 1);
    held.push(args);
    return true;
  }

  /** Queues the held events for the plugins now started (drops past MAX_HELD are counted for them). */
  private releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.refreshTargets();
    for (const [hook, n] of this.heldDropped) {
      for (const e of this.entries.values()) if (e.handle && e.info.hooks.includes(hook)) this.countDrop(e, hook, n);
    }
    this.heldDropped.clear();
    for (const args of held) {
      if (typeof args === 'number') {
        this.pushLogged(args);
        releaseLogged(args);
      } else if (args.hook === 'on_request_complete') this.pushTo(this.eventTargets, args);
      else this.broadcast(args);
    }
  }

  private async startAll(configs: readonly PluginConfig[], onProgress?: (done: number, total: number, name: string) => void): Promise<string[]> {
    const problems: string[] = [];
    const enabled = configs.filter((c) => c.enabled);
    for (const cfg of configs) {
      if (!cfg.enabled) this.entries.set(cfg.name, this.newEntry(cfg, placeholderInfo(cfg, 'disabled')));
    }
    let done = 0;
    const loaded = await Promise.all(
      enabled.map(async (cfg) => {
        try {
          return { cfg, instance: await this.deps.engine.start(cfg), error: null as string | null };
        } catch (err) {
          return { cfg, instance: null, error: errorText(err) };
        } finally {
          onProgress?.(++done, enabled.length, cfg.name);
        }
      }),
    );
    const ready: { entry: Entry; instance: PluginHandle }[] = [];
    for (const { cfg, instance, error } of loaded) {
      if (instance) {
        const entry = this.newEntry(cfg, { ...instance.info, state: 'loaded' });
        this.entries.set(cfg.name, entry);
        ready.push({ entry, instance });
      } else {
        this.entries.set(cfg.name, this.newEntry(cfg, placeholderInfo(cfg, 'failed', `failed to load: ${error}`)));
        problems.push(`plugin ${cfg.name} failed to load: ${error}`);
        this.deps.log.error(`plugin ${cfg.name} failed to load and is skipped: ${error}`);
      }
    }
    ready.sort((a, b) => byPriority(a.entry, b.entry));
    for (const { entry, instance } of ready) {
      const error = await this.startEntry(entry, instance);
      if (error) {
        problems.push(`plugin ${entry.name}: ${error}`);
        this.deps.log.error(`plugin ${entry.name}: ${error}; it is skipped`);
      }
    }
    this.refreshTargets();
    return problems;
  }

  /** Every configured plugin (loaded, failed, disabled), in priority order. */
  infos(): PluginInfo[] {
    return [...this.entries.values()].sort(byPriority).map((e) => e.info);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Name of the plugin whose .wasm is at `file`, if any. */
  pluginForPath(file: string): string | null {
    for (const e of this.entries.values()) if (e.config.enabled && e.config.path === file) return e.name;
    return null;
  }

  wasmPaths(): string[] {
    return [...this.entries.values()].filter((e) => e.config.enabled).map((e) => e.config.path);
  }

  /** Whether any loaded (or starting) plugin wants on_request_complete (skip building events otherwise). */
  wantsEvents(): boolean {
    return this.eventTargets.length > 0 || this.held !== null;
  }

  /**
   * Queues on_request_complete for every plugin that exports it (one shared event, see
   * QueuedEvent); `toJson` writes the event's JSON (default JSON.stringify), once for all of them.
   */
  pushEvent<E extends object>(event: E, toJson?: (event: E) => string): void {
    const targets = this.eventTargets;
    if (targets.length === 0 && this.held === null) return;
    const args = new QueuedEvent(event, toJson);
    if (!this.hold(args)) this.pushTo(targets, args);
  }

  /**
   * Queues on_request_complete for every plugin that exports it, by the event's sequence number
   * in the event log (runtime/event-log.ts): each plugin's worker reads it from there.
   */
  pushLogged(seq: number): void {
    if (this.hold(seq)) return;
    const targets = this.eventTargets;
    if (targets.length === 0) return;
    eventLog().retain(seq, targets.length);
    this.pushTo(targets, seq);
  }

  private pushTo(targets: readonly Entry[], args: QueuedItem): void {
    for (let i = 0; i < targets.length; i++) targets[i]!.queue.push(args);
  }

  /** Queues an off-path hook for every loaded plugin exporting it. */
  broadcast(args: QueuedHookArgs): void {
    if (this.hold(args)) return;
    for (const e of [...this.entries.values()].sort(byPriority)) {
      if (e.handle && e.info.hooks.includes(args.hook)) e.queue.push(args);
    }
  }

  /** Runs a lifecycle hook on every loaded plugin, one after another in priority order. */
  private async runAll(hook: LifecycleHook, only?: (e: Entry) => boolean): Promise<string[]> {
    const done: string[] = [];
    for (const e of [...this.entries.values()].sort(byPriority)) {
      if (!e.handle || (only && !only(e))) continue;
      if (!e.info.hooks.includes(hook)) continue;
      // A failed call is logged by the runtime (plugin, hook, reason) and counted in stats.
      await e.handle.call({ hook });
      done.push(e.name);
    }
    return done;
  }

  /** on_reload on every loaded plugin (site files changed). */
  notifyReload(): Promise<string[]> {
    return this.serial(() => this.runAll('on_reload'));
  }

  /** Replaces one plugin's instance (its .wasm changed). The old one keeps serving if the new one fails to load. */
  reload(name: string): Promise<{ ok: boolean; error?: string }> {
    return this.serial(() => this.reloadEntry(name));
  }

  /**
   * A rebuild of `name` from source failed (`[plugins.NAME.build]`): a running version keeps
   * serving and is listed as stale with the build error; without one the plugin is listed as failed.
   */
  markBuildFailed(name: string, error: string): void {
    const entry = this.entries.get(name);
    if (!entry || !entry.config.enabled) return;
    entry.info = entry.handle
      ? { ...entry.handle.info, state: 'stale', error: `the build failed; the running version keeps serving: ${error}` }
      : placeholderInfo(entry.config, 'failed', `the build failed: ${error}`);
  }

  private async reloadEntry(name: string, cfg?: PluginConfig): Promise<{ ok: boolean; error?: string }> {
    const entry = this.entries.get(name);
    if (!entry || this.stopped) return { ok: false, error: `no plugin named ${name}` };
    const nextCfg = cfg ?? entry.config;
    let instance: PluginHandle;
    try {
      instance = await this.deps.engine.start(nextCfg);
    } catch (err) {
      const error = errorText(err);
      if (entry.handle) {
        // The running version keeps serving; what is listed must say it is not the one on disk.
        entry.info = { ...entry.handle.info, state: 'stale', error: `the new version failed to load; the running one keeps serving: ${error}` };
        this.deps.log.error(`plugin ${name}: the new version failed to load; the running one keeps serving: ${error}`);
      } else {
        entry.config = nextCfg;
        entry.info = placeholderInfo(nextCfg, 'failed', `failed to load: ${error}`);
        this.deps.log.error(`plugin ${name} failed to load: ${error}`);
      }
      return { ok: false, error };
    }
    const old = entry.handle;
    if (old) {
      await entry.queue.pause();
      if (old.info.hooks.includes('cleanup')) await old.call({ hook: 'cleanup' });
      await this.closeInstance(entry);
    }
    entry.config = nextCfg;
    const error = await this.startEntry(entry, instance);
    entry.queue.resume();
    this.refreshTargets();
    if (error) {
      this.deps.log.error(`plugin ${name}: ${error}; it is skipped until it changes again`);
      return { ok: false, error };
    }
    this.deps.log.info(`plugin ${name} reloaded`);
    return { ok: true };
  }

  private async removeEntry(entry: Entry): Promise<void> {
    this.entries.delete(entry.name);
    this.refreshTargets();
    const handle = entry.handle;
    if (!handle) {
      this.flushEntryDrops(entry);
      return;
    }
    await entry.queue.drain(5_000);
    entry.queue.discard();
    this.flushEntryDrops(entry);
    for (const hook of ['on_server_stop', 'cleanup'] as const) {
      if (handle.info.hooks.includes(hook)) await handle.call({ hook });
    }
    await this.closeInstance(entry);
  }

  /**
   * Applies a new, valid config: removed or disabled plugins are stopped, new ones loaded and
   * started, changed ones reloaded with their new config; every other loaded plugin gets on_reload.
   */
  applyConfig(configs: readonly PluginConfig[], opts: { reloadAll?: boolean } = {}): Promise<ApplySummary> {
    return this.serial(async () => {
      const summary: ApplySummary = { added: [], removed: [], reloaded: [], failed: [], notified: [] };
      const next = new Map(configs.map((c) => [c.name, c]));
      for (const entry of [...this.entries.values()]) {
        const cfg = next.get(entry.name);
        if (!cfg || !cfg.enabled) {
          if (entry.config.enabled) summary.removed.push(entry.name);
          await this.removeEntry(entry);
        }
      }
      const touched = new Set<string>();
      const ordered = [...configs].sort(
        (a, b) => (a.priority ?? DEFAULT_PRIORITY) - (b.priority ?? DEFAULT_PRIORITY) || a.name.localeCompare(b.name),
      );
      for (const cfg of ordered) {
        if (!cfg.enabled) {
          this.entries.set(cfg.name, this.newEntry(cfg, placeholderInfo(cfg, 'disabled')));
          continue;
        }
        const entry = this.entries.get(cfg.name);
        const changed = !entry || entry.handle === null || opts.reloadAll === true ||
          JSON.stringify(entry.config) !== JSON.stringify(cfg);
        if (!changed) continue;
        touched.add(cfg.name);
        if (!entry) {
          this.entries.set(cfg.name, this.newEntry(cfg, placeholderInfo(cfg, 'failed', 'not loaded yet')));
          summary.added.push(cfg.name);
        } else {
          summary.reloaded.push(cfg.name);
        }
        const r = await this.reloadEntry(cfg.name, cfg);
        if (!r.ok) summary.failed.push({ name: cfg.name, error: r.error ?? 'unknown error' });
      }
      summary.notified = await this.runAll('on_reload', (e) => !touched.has(e.name));
      this.refreshTargets();
      return summary;
    });
  }

  /** Waits for every event queue to empty; false when `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const results = await Promise.all(
      [...this.entries.values()].map((e) => e.queue.drain(Math.max(0, deadline - Date.now()))),
    );
    this.flushDrops();
    return results.every(Boolean);
  }

  /** on_server_stop on every plugin, then cleanup on every plugin (priority order), then closes them. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.stopped = true;
      for (const e of this.entries.values()) e.queue.discard();
      await this.runAll('on_server_stop');
      await this.runAll('cleanup');
      await Promise.allSettled([...this.entries.values()].map((e) => this.closeInstance(e)));
      this.refreshTargets();
      this.flushDrops();
    });
  }

  /** Queued events per plugin (for the admin API). */
  /**
   * Shutdown stopped waiting for the queues: each plugin finishes the call it is running (bounded
   * by its fuel and timeout_ms), runs none of the rest, and what was queued is dropped and counted
   * in stats. Returns the events dropped per plugin (plugins that dropped none are left out).
   */
  async abandonQueued(): Promise<Record<string, number>> {
    const dropped: Record<string, number> = {};
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        const paused = e.queue.pause();
        e.handle?.cancelBatch?.();
        await paused;
        const n = e.queue.dropAll();
        if (n > 0) dropped[e.name] = n;
      }),
    );
    this.flushDrops();
    return dropped;
  }

  queueDepths(): Record<string, { pending: number; dropped: number }> {
    const out: Record<string, { pending: number; dropped: number }> = {};
    for (const e of this.entries.values()) out[e.name] = { pending: e.queue.pending, dropped: e.queue.droppedTotal };
    return out;
  }

  hookNames(name: string): HookName[] {
    return this.entries.get(name)?.info.hooks ?? [];
  }
}
