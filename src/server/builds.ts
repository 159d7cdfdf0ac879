/**
 * Build on save under `bext dev`, for plugins with a `[plugins.NAME.build]` table: builds what is
 * out of date before plugins load, watches each build's source globs, and rebuilds (debounced)
 * when one changes. A successful build reloads its plugin exactly once; the .wasm watcher is told
 * to leave the build's own output alone (see ownsWasmChange), so the file landing on disk does
 * not reload it a second time. A failed build logs the compiler's output and leaves the running
 * version serving, listed as stale with the error. Sources changing during a build queue one
 * more build after it, never a lost change.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { PluginConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PluginSupervisor } from '../plugins/supervisor.js';
import {
  describeCommand,
  isSkippedDir,
  sourceFiles,
  sourceMatcher,
  sourceRoots,
  staleReason,
  startBuild,
  type BuildResult,
  type RunningBuild,
} from './plugin-build.js';

/** Saves come in bursts (editor temp files, formatters, "save all"); one build per burst. */
const DEBOUNCE_MS = 150;

export interface DevBuilds {
  /** Builds the enabled plugins among `configs` whose .wasm is missing or older than a source; returns the failures. */
  buildStale(configs: readonly PluginConfig[]): Promise<Map<string, string>>;
  /** Starts watching sources (after plugins are loaded). */
  watch(): Promise<void>;
  /** The config changed: watch the sources it names now. */
  update(configs: readonly PluginConfig[]): void;
  /** True when a change to plugin `name`'s .wasm is a build's own output (being built, or already reloaded). */
  ownsWasmChange(name: string, file: string): boolean;
  /** Stops watching and kills running builds. */
  close(): Promise<void>;
}

interface BuildState {
  running: RunningBuild | null;
  /** A build or its reload is in progress. */
  busy: boolean;
  /** Sources changed while busy: build again afterwards. */
  again: boolean;
  timer: NodeJS.Timeout | null;
  /** `mtime:size` of the .wasm the last build delivered (and reloaded). */
  delivered: string | null;
}

function stamp(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The failure in one line plus the compiler's output, as logged and listed. */
export function failureText(r: BuildResult): string {
  return r.output ? `${r.error}\n${r.output}` : (r.error ?? 'failed');
}

/** Terminal log lines are one per record, so the compiler's output goes line by line, capped. */
const MAX_OUTPUT_LINES = 60;

function logFailure(log: Logger, name: string, r: BuildResult): void {
  log.error(`plugin ${name}: build failed (${r.error})${r.output ? ':' : ''}`);
  const lines = r.output === '' ? [] : r.output.split(/\r?\n/);
  for (const line of lines.slice(0, MAX_OUTPUT_LINES)) log.error({ plugin: name, source: 'build' }, line);
  if (lines.length > MAX_OUTPUT_LINES) {
    log.error({ plugin: name, source: 'build' }, `… ${lines.length - MAX_OUTPUT_LINES} more lines (bext build ${name} shows them all)`);
  }
}

export function createDevBuilds(deps: { log: Logger; plugins: PluginSupervisor; configs(): readonly PluginConfig[] }): DevBuilds {
  const { log, plugins } = deps;
  const states = new Map<string, BuildState>();
  let watcher: FSWatcher | null = null;
  let roots: string[] = [];
  let closed = false;
  /** `mtime:size` of each source as last seen (null: deleted), to tell real changes from noise. */
  const seen = new Map<string, string | null>();

  const state = (name: string): BuildState => {
    let s = states.get(name);
    if (!s) states.set(name, (s = { running: null, busy: false, again: false, timer: null, delivered: null }));
    return s;
  };
  const buildable = (configs: readonly PluginConfig[]): PluginConfig[] => configs.filter((p) => p.enabled && p.build);
  const current = (name: string): PluginConfig | undefined => buildable(deps.configs()).find((p) => p.name === name);

  async function runOne(cfg: PluginConfig, why: string): Promise<BuildResult> {
    const s = state(cfg.name);
    log.info(`plugin ${cfg.name}: ${why}: building (${describeCommand(cfg.build!.command)})`);
    remember(sourceFiles(cfg.build!));
    s.running = startBuild(cfg);
    const r = await s.running.done;
    s.running = null;
    if (r.ok) {
      s.delivered = stamp(cfg.path);
      log.info(`plugin ${cfg.name}: built in ${seconds(r.ms)}`);
    } else if (!closed) {
      logFailure(log, cfg.name, r);
    }
    return r;
  }

  async function rebuild(name: string, why: string): Promise<void> {
    const s = state(name);
    if (s.busy) {
      s.again = true;
      log.debug(`plugin ${name}: ${why} during the build; one more build follows it`);
      return;
    }
    s.busy = true;
    try {
      do {
        s.again = false;
        const cfg = current(name);
        if (!cfg || closed) return;
        const r = await runOne(cfg, why);
        if (closed) return;
        if (r.ok) await plugins.reload(name);
        else plugins.markBuildFailed(name, failureText(r));
        why = 'sources changed during the build';
      } while (s.again);
    } finally {
      s.busy = false;
    }
  }

  function remember(files: readonly string[]): void {
    for (const f of files) seen.set(f, stamp(f));
  }

  function onSource(file: string): void {
    if (closed) return;
    const abs = path.resolve(file);
    // The watcher also reports a file that was only read after an atomic save (its new inode's
    // attributes change when the compiler opens it): unchanged mtime and size are no change.
    const now = stamp(abs);
    if (seen.has(abs) && seen.get(abs) === now) return;
    seen.set(abs, now);
    for (const cfg of buildable(deps.configs())) {
      if (abs === cfg.path || !sourceMatcher(cfg.build!)(abs)) continue;
      const s = state(cfg.name);
      if (s.timer) clearTimeout(s.timer);
      const rel = path.relative(cfg.build!.cwd, abs) || abs;
      s.timer = setTimeout(() => {
        s.timer = null;
        void rebuild(cfg.name, `${rel} changed`).catch((err) => log.error({ err, plugin: cfg.name }, 'rebuilding failed in the host'));
      }, DEBOUNCE_MS);
    }
  }

  const rootsOf = (configs: readonly PluginConfig[]): string[] => [...new Set(buildable(configs).flatMap((p) => sourceRoots(p.build!)))].sort();

  /** Dependencies, VCS data and build output under a watched folder never count as sources. */
  const ignored = (p: string): boolean => {
    const abs = path.resolve(p);
    return roots.some((root) => {
      const rel = path.relative(root, abs);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return false;
      return rel.split(path.sep).slice(0, -1).some(isSkippedDir) || isSkippedDir(path.basename(abs));
    });
  };

  async function startWatcher(): Promise<void> {
    roots = rootsOf(deps.configs());
    if (roots.length === 0 || closed) return;
    const w = watch(roots, { ignoreInitial: true, ignored });
    watcher = w;
    for (const ev of ['add', 'change', 'unlink'] as const) w.on(ev, onSource);
    w.on('error', (err) => log.warn({ err }, 'source watcher error'));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    // A save between the staleness check (or the start of a build) and the watcher being ready
    // raised no event: the files that differ from what was last seen count as changed now.
    for (const cfg of buildable(deps.configs())) {
      for (const f of sourceFiles(cfg.build!)) {
        if (!seen.has(f)) seen.set(f, stamp(f));
        else onSource(f);
      }
    }
  }

  return {
    async buildStale(configs) {
      const failed = new Map<string, string>();
      for (const cfg of buildable(configs)) {
        if (closed) break;
        let why = staleReason(cfg);
        if (why === null) {
          remember(sourceFiles(cfg.build!));
          continue;
        }
        const s = state(cfg.name);
        s.busy = true;
        try {
          // A save during the build (a watched one, for a plugin added to a running server) means
          // the output is already old: build again before the plugin loads.
          let r: BuildResult;
          do {
            s.again = false;
            r = await runOne(cfg, why);
            why = 'sources changed during the build';
          } while (s.again && !closed);
          if (!r.ok) failed.set(cfg.name, failureText(r));
        } finally {
          s.busy = false;
        }
      }
      return failed;
    },
    watch: startWatcher,
    update(configs) {
      const next = rootsOf(configs);
      if (closed || next.join('\n') === roots.join('\n')) return;
      const old = watcher;
      watcher = null;
      void (async () => {
        await old?.close().catch(() => {});
        await startWatcher();
      })().catch((err) => log.warn({ err }, 'source watcher error'));
    },
    ownsWasmChange(name, file) {
      const s = states.get(name);
      if (!s) return false;
      return s.busy || (s.delivered !== null && stamp(file) === s.delivered);
    },
    async close() {
      closed = true;
      for (const s of states.values()) {
        if (s.timer) clearTimeout(s.timer);
        s.running?.kill();
      }
      await watcher?.close().catch(() => {});
      watcher = null;
    },
  };
}
