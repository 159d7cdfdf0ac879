/**
 * The JSON behind the dashboard page (`GET /__bext/dashboard`): each configured plugin with its
 * state, version, language guess and the figures of its running version (and earlier ones,
 * marked), plus the recent failures. One request gives the page all it draws, so a refresh is a
 * single round trip. Shape documented in docs/dev-server.md.
 */
import type { HookName } from '../config/types.js';
import type { PluginInfo } from '../runtime/types.js';
import type { FailureRecord, PluginHistory, PluginHistoryView } from './plugin-history.js';

export const DASHBOARD_VIEW_VERSION = 1;

/** `loaded`/`failed`/`disabled` as the supervisor says, and `stale`: a reload failed, the previous version serves. */
export type DashboardState = PluginInfo['state'] | 'stale';

export interface DashboardPlugin extends PluginHistoryView {
  name: string;
  path: string;
  state: DashboardState;
  /** The load error (failed) or the failed reload's error (stale). */
  error: string | null;
  priority: number;
  hooks: HookName[];
  budgets: Record<HookName, number>;
  queue: { pending: number; dropped: number };
}

export interface DashboardView {
  version: typeof DASHBOARD_VIEW_VERSION;
  generatedAt: number;
  server: { url: string; pid: number; startedAt: number; cache: { enabled: boolean; entries: number; bytes: number } };
  plugins: DashboardPlugin[];
  failures: FailureRecord[];
}

export interface DashboardSources {
  infos(): PluginInfo[];
  queueDepths(): Record<string, { pending: number; dropped: number }>;
  history: PluginHistory;
  server(): DashboardView['server'];
}

export function dashboardPlugin(info: PluginInfo, history: PluginHistory, queue: { pending: number; dropped: number } | undefined): DashboardPlugin {
  const h = history.view(info.name);
  const stale = info.state === 'loaded' && h.staleSince !== null;
  return {
    name: info.name,
    path: info.path,
    state: stale ? 'stale' : info.state,
    error: stale ? h.staleSince!.error : (info.error ?? null),
    priority: info.priority,
    hooks: [...info.hooks],
    budgets: { ...info.budgets },
    queue: queue ?? { pending: 0, dropped: 0 },
    // A plugin that is not running has no current figures to show as such.
    ...h,
    current: info.state === 'disabled' ? null : h.current,
  };
}

export function dashboardView(src: DashboardSources, now = Date.now()): DashboardView {
  const depths = src.queueDepths();
  return {
    version: DASHBOARD_VIEW_VERSION,
    generatedAt: now,
    server: src.server(),
    plugins: src.infos().map((i) => dashboardPlugin(i, src.history, depths[i.name])),
    failures: src.history.recentFailures(),
  };
}
