/**
 * Rows of `bext plugin list`: from the running server's `/__bext/plugins` when one answers, else
 * from the config alone (then the state says what can be known without loading: disabled,
 * configured, missing file, invalid wasm) with the hooks read from the module's exports.
 */
import fs from 'node:fs';
import { displayPath } from '../config/index.js';
import { HOOK_NAMES, type HookName, type PluginConfig } from '../config/types.js';
import { thousands } from '../format.js';
import type { PluginInfo } from '../runtime/types.js';
import { table } from './render.js';
import { parseModule } from '../wasm/index.js';

/** Server states plus what the config alone can tell. */
export type ListState = PluginInfo['state'] | 'configured' | 'missing' | 'invalid';

export interface ListRow {
  name: string;
  path: string;
  state: ListState;
  /** Configured priority, or the one the loaded guest reported; null = decided at load (guest or 1000). */
  priority: number | null;
  /** Hooks the module exports (empty when unknown). */
  hooks: HookName[];
  budgets: Record<HookName, number>;
  error?: string;
}

/** Hook names the module exports; throws when the file is not a valid module. */
function exportedHooks(file: string): HookName[] {
  // Section-level parse only (no compile), so listing stays cheap for large modules.
  const names = new Set(parseModule(fs.readFileSync(file)).exports.filter((e) => e.kind === 'function').map((e) => e.name));
  return HOOK_NAMES.filter((h) => names.has(h));
}

export function rowFromConfig(p: PluginConfig): ListRow {
  const row: ListRow = { name: p.name, path: p.path, state: 'configured', priority: p.priority, hooks: [], budgets: { ...p.fuel } };
  if (!fs.existsSync(p.path)) {
    row.state = p.enabled ? 'missing' : 'disabled';
    if (p.enabled) row.error = `file not found: ${p.path}`;
    return row;
  }
  try {
    row.hooks = exportedHooks(p.path);
  } catch (err) {
    row.state = 'invalid';
    row.error = (err as Error).message;
  }
  if (!p.enabled) row.state = 'disabled';
  return row;
}

export function rowFromInfo(i: PluginInfo): ListRow {
  const row: ListRow = { name: i.name, path: i.path, state: i.state, priority: i.priority, hooks: [...(i.hooks ?? [])], budgets: { ...i.budgets } };
  if (i.error) row.error = i.error;
  return row;
}

export function renderList(rows: ListRow[], sourceLine: string): string {
  const lines = [sourceLine, ''];
  if (rows.length === 0) {
    lines.push('no plugins configured');
    return lines.join('\n') + '\n';
  }
  const head = ['NAME', 'STATE', 'PRIORITY', 'PATH'];
  const body = rows.map((r) => [r.name, r.state, r.priority === null ? 'auto' : String(r.priority), displayPath(r.path)]);
  const aligned = table([head, ...body], '', 4);
  lines.push(aligned[0]!);
  rows.forEach((r, i) => {
    lines.push(aligned[i + 1]!);
    if (r.hooks.length) {
      lines.push(...table(r.hooks.map((h) => [h, `${thousands(r.budgets[h])} fuel`]), '    ', 1));
    } else if (r.state === 'configured' || r.state === 'loaded' || r.state === 'stale') {
      lines.push('    (no hooks exported)');
    }
    if (r.error) lines.push(`    error: ${r.error.split('\n')[0]}`);
  });
  return lines.join('\n') + '\n';
}
