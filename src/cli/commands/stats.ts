/**
 * `bext plugin stats [NAME] [--json] [--since WHEN] [--reset] [--url URL]`: per-hook calls,
 * outcomes, fuel and time, from the running dev server when one answers (at --url, else where
 * `.bext/server.json` says, else on the configured port), else from `.bext/stats.db`. The output
 * always says which source it used.
 */
import { closest } from 'fastest-levenshtein';
import { BextError, EXIT_OK } from '../../errors.js';
import { fetchLiveStats } from '../../stats/client.js';
import { findServer } from '../../stats/discovery.js';
import { loadConfigView, type ConfigView } from '../../stats/config-view.js';
import { persistedPlugins, readPersisted, resetPersisted } from '../../stats/persisted.js';
import { renderPlugin, renderSummary } from '../../stats/render.js';
import { parseSince } from '../../stats/since.js';
import type { StatsSnapshot } from '../../stats/types.js';

export interface StatsOptions {
  config?: string;
  json?: boolean;
  since?: string;
  reset?: boolean;
  url?: string;
}

/** Where the figures came from; part of the JSON output too. */
type Origin = { kind: 'live'; url: string } | { kind: 'persisted'; db: string; note: string };

function unknownPlugin(name: string, known: string[]): BextError {
  const details = [known.length ? `  known plugins: ${known.join(', ')}` : '  no plugins are configured and no stats are stored'];
  if (known.length) {
    const guess = closest(name, known);
    if (guess) details.unshift(`  did you mean "${guess}"?`);
  }
  return new BextError('unknown_plugin', `unknown plugin "${name}"`, { details });
}

function knownNames(cfg: ConfigView, extra: Iterable<string>): string[] {
  return [...new Set([...cfg.plugins.map((p) => p.name), ...persistedPlugins(cfg.dbPath), ...extra])].sort();
}

async function gather(cfg: ConfigView, name: string | undefined, since: number | undefined, url?: string): Promise<{ snap: StatsSnapshot; origin: Origin }> {
  const target = findServer(cfg.stateDir, cfg.server, url);
  const base = target.base;
  const live = await fetchLiveStats(base, name, since, target.timeoutMs);
  let note: string;
  if (live.kind === 'ok') {
    // The live recorder starts from the stored totals, so when it answers it has everything.
    if (since === undefined || live.value.since !== null) {
      return { snap: live.value, origin: { kind: 'live', url: `${base}/__bext/stats${name === undefined ? '' : `/${name}`}` } };
    }
    note = `the dev server at ${base} cannot scope by time; stored figures lag it by a few seconds`;
  } else if (live.kind === 'not_found') {
    note = `the dev server at ${base} has no stats for "${name}"`;
  } else {
    note = `no dev server answering at ${base}`;
  }
  if (target.note) note += `; ${target.note}`;
  const snap = readPersisted(cfg.dbPath, { plugin: name, since });
  return { snap, origin: { kind: 'persisted', db: cfg.dbPath, note } };
}

function sourceLine(origin: Origin, snap: StatsSnapshot): string {
  const scope = snap.since ? `, calls since ${snap.since} (minute buckets)` : '';
  return origin.kind === 'live'
    ? `source: live, from the dev server at ${origin.url}${scope}`
    : `source: persisted, ${origin.db} (${origin.note})${scope}`;
}

async function reset(cfg: ConfigView, name: string | undefined, json: boolean): Promise<number> {
  if (name !== undefined) {
    const known = knownNames(cfg, []);
    if (!known.includes(name)) throw unknownPlugin(name, known);
  }
  const removed = resetPersisted(cfg.dbPath, name);
  if (json) {
    process.stdout.write(JSON.stringify({ reset: name ?? null, removedBuckets: removed, db: cfg.dbPath }) + '\n');
  } else {
    process.stdout.write(
      `cleared stats of ${name === undefined ? 'all plugins' : `"${name}"`} in ${cfg.dbPath} (${removed} time bucket(s));` +
        ' a running dev server drops its figures too\n',
    );
  }
  return EXIT_OK;
}

export async function run(name: string | undefined, opts: StatsOptions): Promise<number> {
  const cfg = loadConfigView(opts.config);
  const json = opts.json === true;
  if (opts.reset) {
    if (opts.since !== undefined) {
      throw new BextError('bad_flags', '--reset clears all stored stats; it cannot be combined with --since');
    }
    return reset(cfg, name, json);
  }
  const since = opts.since === undefined ? undefined : parseSince(opts.since);
  const { snap, origin } = await gather(cfg, name, since, opts.url);

  if (name !== undefined && snap.plugins[name] === undefined) {
    const configured = cfg.plugins.some((p) => p.name === name);
    if (!configured) throw unknownPlugin(name, knownNames(cfg, Object.keys(snap.plugins)));
    if (json) process.stdout.write(JSON.stringify({ ...snap, origin }, null, 2) + '\n');
    else process.stdout.write(`${name}: no calls recorded${snap.since ? ` since ${snap.since}` : ' yet'}\n${sourceLine(origin, snap)}\n`);
    return EXIT_OK;
  }

  if (json) {
    process.stdout.write(JSON.stringify({ ...snap, origin }, null, 2) + '\n');
    return EXIT_OK;
  }
  if (name !== undefined) {
    let out = renderPlugin(snap.plugins[name]!, sourceLine(origin, snap));
    if (!cfg.plugins.some((p) => p.name === name)) out += `note: "${name}" is not in ${cfg.file} any more\n`;
    process.stdout.write(out);
  } else {
    const idle = cfg.plugins.map((p) => p.name).filter((n) => snap.plugins[n] === undefined);
    process.stdout.write(renderSummary(snap, sourceLine(origin, snap), idle));
  }
  return EXIT_OK;
}
