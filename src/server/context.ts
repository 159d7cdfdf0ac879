/** What the dev server's parts share while it runs. */
import type { ResolvedConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PluginSupervisor } from '../plugins/supervisor.js';
import type { ServerMetrics } from './metrics.js';
import type { Origins } from './origins.js';
import type { SiteCache } from './site-cache.js';

export interface ServerContext {
  /** The config in force; hot reload replaces it. */
  config: ResolvedConfig;
  /** The host bext listens on (`--host`, else server.host); a name here is one of bext's own. */
  readonly listenHost: string;
  /**
   * Resolves once start-up has loaded the plugins and run their on_server_start (the server
   * answers the site before that; the admin API waits for it, so it never shows half a start).
   */
  readonly started: Promise<void>;
  /** Set when shutdown begins: responses ask clients to close, upgrades are refused. */
  closing: boolean;
  /** Problems found while starting or applying a config (shown in the banner). */
  readonly warnings: string[];
  readonly log: Logger;
  readonly plugins: PluginSupervisor;
  readonly cache: SiteCache;
  readonly origins: Origins;
  readonly metrics: ServerMetrics;
}
