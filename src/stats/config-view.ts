/**
 * The slice of the config the stats and list commands need: where the server listens, where
 * stats.db is, and the configured plugins. Plugin files are not required to exist here: these
 * commands report on them (`bext plugin list` shows a missing file as a state).
 */
import { loadConfig } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { statsDbPath } from './store.js';

export interface ConfigView {
  config: ResolvedConfig;
  dbPath: string;
  /** `.bext/` beside the config: state.db and server.json live here. */
  stateDir: string;
  server: { host: string; port: number };
  plugins: ResolvedConfig['plugins'];
  file: string;
}

export function loadConfigView(configFile: string | undefined): ConfigView {
  const config = loadConfig(configFile, { checkFiles: false });
  return {
    config,
    file: config.file,
    dbPath: statsDbPath(config.stateDir),
    stateDir: config.stateDir,
    server: { host: config.server.host, port: config.server.port },
    plugins: config.plugins,
  };
}
