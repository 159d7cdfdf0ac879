/**
 * Watches the config file, every plugin's .wasm and the static root, and hands debounced
 * batches of changes to the server. Batches are processed one at a time; changes that arrive
 * while a batch runs are collected into the next one.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';

export interface WatchTargets {
  configFile: string;
  wasm: string[];
  root: string | null;
  /** Folders whose changes never matter (the state folder with its database). */
  ignore: string[];
}

export interface ChangeBatch {
  config: boolean;
  wasm: Set<string>;
  site: Set<string>;
}

export interface Watcher {
  /** Resolves once the initial scan is done (changes after it are reported). */
  ready: Promise<void>;
  update(targets: WatchTargets): void;
  close(): Promise<void>;
}

const IGNORED_DIRS = new Set(['node_modules', '.git']);

function under(dir: string, file: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** What a file is now (null: gone), to tell a change from a late second report of one already taken. */
function stamp(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return null;
  }
}

export async function createWatcher(
  initial: WatchTargets,
  onBatch: (batch: ChangeBatch) => Promise<void>,
  opts: { debounceMs?: number; log: Logger },
): Promise<Watcher> {
  let targets = initial;
  let wasmSet = new Set(initial.wasm.map((p) => path.resolve(p)));
  const debounceMs = opts.debounceMs ?? 120;

  const ignored = (p: string): boolean => {
    const abs = path.resolve(p);
    if (targets.ignore.some((d) => under(d, abs))) return true;
    return abs.split(path.sep).some((seg) => IGNORED_DIRS.has(seg));
  };

  const list = (t: WatchTargets): string[] => [t.configFile, ...t.wasm, ...(t.root ? [t.root] : [])];

  // chokidar loads here, once the server is listening, rather than before its first response.
  const { watch } = await import('chokidar');
  const watcher: FSWatcher = watch(list(initial), {
    ignoreInitial: true,
    ignored,
    // Compilers write .wasm files in several steps; wait until the size settles.
    awaitWriteFinish: { stabilityThreshold: 60, pollInterval: 20 },
  });

  let pending: ChangeBatch = { config: false, wasm: new Set(), site: new Set() };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  // Site files as last reported. One save can be reported twice, the second time later than the
  // debounce on a busy machine (the watcher stats files on a shared thread pool): a report of a
  // file that has not changed since is not a second change (a second reload, live-reload event).
  const siteSeen = new Map<string, string | null>();

  const classify = (p: string): void => {
    const abs = path.resolve(p);
    if (abs === path.resolve(targets.configFile)) pending.config = true;
    else if (wasmSet.has(abs)) pending.wasm.add(abs);
    else if (targets.root && under(targets.root, abs)) {
      const now = stamp(abs);
      if (siteSeen.has(abs) && siteSeen.get(abs) === now) return;
      siteSeen.set(abs, now);
      pending.site.add(abs);
    } else return;
    schedule();
  };

  const flush = async (): Promise<void> => {
    timer = null;
    if (running) {
      // Let the batch in progress finish; the next flush picks up what accumulated.
      await running;
      if (timer === null) schedule();
      return;
    }
    const batch = pending;
    pending = { config: false, wasm: new Set(), site: new Set() };
    if (!batch.config && batch.wasm.size === 0 && batch.site.size === 0) return;
    running = onBatch(batch).catch((err) => opts.log.error({ err }, 'handling a file change failed'));
    await running;
    running = null;
  };

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void flush(), debounceMs);
  }

  for (const ev of ['add', 'change', 'unlink'] as const) watcher.on(ev, classify);
  watcher.on('error', (err) => opts.log.warn({ err }, 'file watcher error'));

  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  return {
    ready,
    update(next: WatchTargets): void {
      const before = new Set(list(targets));
      const after = new Set(list(next));
      const gone = [...before].filter((p) => !after.has(p));
      const added = [...after].filter((p) => !before.has(p));
      targets = next;
      wasmSet = new Set(next.wasm.map((p) => path.resolve(p)));
      if (gone.length > 0) watcher.unwatch(gone);
      if (added.length > 0) watcher.add(added);
    },
    async close(): Promise<void> {
      if (timer) clearTimeout(timer);
      timer = null;
      await watcher.close();
      if (running) await running;
    },
  };
}
