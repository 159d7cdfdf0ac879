/**
 * The plugin engine as the dev server uses it: every load is noted in the PluginHistory (module
 * hash, budgets, language guess; a failed load marks the running version stale), and every call
 * an instance makes is counted against the version that made it, with the size of its input.
 * Wrapping the engine keeps this out of the supervisor: whatever path loads a plugin (start,
 * hot reload, POST /__bext/reload), it goes through engine.start().
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PluginEngine } from '../plugins/engine.js';
import type { CallResult, HookArgs, PluginHandle, QueuedCall, QueuedRun } from '../runtime/types.js';
import { guessLanguage, type LanguageGuess } from '../wasm/index.js';
import type { PluginHistory, PluginVersion } from './plugin-history.js';
export { inputBytes } from './plugin-history.js';

function errorText(err: unknown): string {
  const e = err as { message?: string; details?: readonly string[] };
  const first = e?.message ?? String(err);
  return e?.details && e.details.length > 0 ? `${first}\n${e.details.join('\n')}` : first;
}

async function identify(file: string): Promise<{ hash: string; language: LanguageGuess }> {
  try {
    const bytes = await readFile(file);
    return { hash: createHash('sha256').update(bytes).digest('hex').slice(0, 12), language: guessLanguage(bytes) };
  } catch {
    // The engine reports the real problem; the hash only labels a version.
    return { hash: 'unreadable', language: { language: 'unknown', evidence: 'module not readable' } };
  }
}

function counted(handle: PluginHandle, history: PluginHistory, version: PluginVersion): PluginHandle {
  const batch = handle.callBatch?.bind(handle);
  const queued = handle.callQueued?.bind(handle);
  const cancel = handle.cancelBatch?.bind(handle);
  return {
    info: handle.info,
    async call(args: HookArgs): Promise<CallResult> {
      const r = await handle.call(args);
      history.call(r, version, args);
      return r;
    },
    ...(batch
      ? {
          async callBatch(list: readonly HookArgs[]): Promise<CallResult[]> {
            const results = await batch(list);
            // Results come in the order of `list`; fewer when the batch stopped early.
            for (let i = 0; i < results.length; i++) history.call(results[i]!, version, list[i]!);
            return results;
          },
        }
      : {}),
    ...(queued
      ? {
          async callQueued(list: readonly QueuedCall[]): Promise<QueuedRun> {
            const run = await queued(list);
            for (const t of run.tallies) history.tally(t, version);
            for (const { index, result } of run.results) history.call(result, version, list[index]!);
            return run;
          },
        }
      : {}),
    // Shutdown's drain bound depends on it (supervisor.abandonQueued).
    ...(cancel ? { cancelBatch: cancel } : {}),
    close: () => handle.close(),
  };
}

export function trackEngine(engine: PluginEngine, history: PluginHistory): PluginEngine {
  return {
    async start(plugin) {
      // Read before the engine so the hash names the bytes it is about to load (a file replaced
      // in between is caught by the watcher, which loads again).
      const id = await identify(plugin.path);
      let handle: PluginHandle;
      try {
        handle = await engine.start(plugin);
      } catch (err) {
        history.loadFailed(plugin.name, errorText(err));
        throw err;
      }
      const version = history.loaded(plugin.name, id.hash, plugin.fuel, id.language);
      return counted(handle, history, version);
    },
  };
}
