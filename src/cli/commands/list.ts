/**
 * `bext plugin list [--json] [--url URL]`: configured plugins with path, state, priority, hooks
 * and budgets. Live states (loaded/failed/disabled) come from a running dev server (found as
 * `plugin stats` finds it: --url, `.bext/server.json`, the configured port); without one, from
 * the config.
 */
import { EXIT_OK } from '../../errors.js';
import { fetchLivePlugins } from '../../stats/client.js';
import { findServer } from '../../stats/discovery.js';
import { loadConfigView } from '../../stats/config-view.js';
import { renderList, rowFromConfig, rowFromInfo, type ListRow } from '../../stats/plugin-list.js';

export interface ListOptions {
  config?: string;
  json?: boolean;
  url?: string;
}

export async function run(opts: ListOptions): Promise<number> {
  const cfg = loadConfigView(opts.config);
  const target = findServer(cfg.stateDir, cfg.server, opts.url);
  const base = target.base;
  const live = await fetchLivePlugins(base, target.timeoutMs);
  let rows: ListRow[];
  let source: { kind: 'live'; url: string } | { kind: 'config'; file: string; note: string };
  if (live.kind === 'ok') {
    rows = live.value.map(rowFromInfo);
    source = { kind: 'live', url: `${base}/__bext/plugins` };
  } else {
    rows = cfg.plugins.map(rowFromConfig);
    source = { kind: 'config', file: cfg.file, note: `no dev server answering at ${base}${target.note ? `; ${target.note}` : ''}` };
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ source, plugins: rows }, null, 2) + '\n');
    return EXIT_OK;
  }
  const line =
    source.kind === 'live'
      ? `source: live, from the dev server at ${source.url}`
      : `source: config, ${source.file} (${source.note}; states are what the config alone tells)`;
  process.stdout.write(renderList(rows, line));
  return EXIT_OK;
}
