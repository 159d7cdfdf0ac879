/**
 * `bext dev`: loads the config (exit 2 when it is invalid), starts the dev server, prints the
 * banner, and shuts down cleanly on SIGINT/SIGTERM (a second Ctrl-C exits at once).
 */
import { packageVersion } from '../../package.js';
import { loadConfig } from '../../config/index.js';
import { BextError, EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import { flushLogs, logger, logNames, statusLine } from '../../log.js';
import { createDevServer, formatBanner } from '../../server/index.js';
import { removeServerRecord, writeServerRecord } from '../../stats/discovery.js';
import { noteConfigFile } from '../config-file.js';

/** Signals closer together than this are one keypress delivered twice. */
const DUPLICATE_SIGNAL_MS = 500;

export interface DevOptions {
  config?: string;
  port?: string;
  host?: string;
  watch?: boolean;
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new BextError('bad_port', `-p/--port must be a whole number from 0 to 65535, got "${value}"`, {
      details: ['  hint: -p 0 picks any free port'],
    });
  }
  return n;
}

function progress(): ((done: number, total: number, name: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  // Written in order with the log lines, which clear it (a plugin may log while it loads).
  return (done, total, name) => statusLine(done === total ? null : `  loading plugins ${done}/${total}  ${name}`);
}

interface StopSignals {
  /** The first SIGINT/SIGTERM. */
  readonly first: Promise<NodeJS.Signals>;
  /** Whether the server is up (a signal before that stops it as soon as start-up finishes). */
  serving(): void;
  dispose(): void;
}

/**
 * Listens for SIGINT/SIGTERM from bext's first moment. Without a listener Node dies on SIGTERM
 * at once, so a signal between the banner and a late listener would skip the shutdown (the
 * state files, the shutdown line, the exit code).
 */
function watchStopSignals(log: ReturnType<typeof logger>): StopSignals {
  let stoppingSince = 0;
  let up = false;
  let resolveFirst!: (signal: NodeJS.Signals) => void;
  const first = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppingSince > 0) {
      // One Ctrl-C often arrives twice: the terminal signals the whole process group and a
      // wrapper (npm run, a start script) forwards its own copy. Only a later press counts.
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
      process.stderr.write('bext: stopped at once\n');
      process.exit(130);
    }
    stoppingSince = Date.now();
    if (!up) log.info(`${signal}: stopping once start-up has finished (Ctrl-C again to exit at once)`);
    resolveFirst(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    first,
    serving: () => (up = true),
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function run(opts: DevOptions): Promise<number> {
  const port = parsePort(opts.port);
  const host = opts.host?.trim();
  if (host === '') throw new BextError('bad_host', '--host must not be empty', { details: ['  hint: --host 127.0.0.1'] });
  const watch = opts.watch !== false;

  const log = logger();
  const signals = watchStopSignals(log);
  let server: Awaited<ReturnType<typeof createDevServer>>;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(opts.config);
    noteConfigFile(opts.config, config);
    logNames(config.plugins.map((p) => p.name));
    server = await createDevServer(config, { port, host, watch, log, onProgress: progress() });
  } catch (err) {
    signals.dispose();
    throw err;
  }

  // `.bext/server.json` lets `bext plugin stats/list` find this server whatever its port. Written
  // before the banner: whoever sees the banner can find the server at once.
  const stateDir = config.stateDir;
  try {
    writeServerRecord(stateDir, { pid: process.pid, url: server.url, startedAt: new Date().toISOString(), config: config.file });
  } catch (err) {
    log.warn(`could not write ${stateDir}/server.json (bext plugin stats will look on the configured port): ${(err as Error).message}`);
  }
  const forget = (): void => removeServerRecord(stateDir);
  process.once('exit', forget);

  // Lines logged while loading come before the banner, as they happened.
  flushLogs();
  process.stdout.write(
    formatBanner({
      version: packageVersion(),
      url: server.url,
      startMs: server.startMs,
      config: server.config(),
      plugins: server.plugins(),
      warnings: server.warnings,
      watch,
      colour: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
    }) + '\n',
  );

  signals.serving();

  const signal = await signals.first;
  log.info(`${signal}: shutting down (finishing responses and plugin hooks; Ctrl-C again to exit at once)`);
  let code = EXIT_OK;
  try {
    await server.close(signal);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    code = EXIT_RUNTIME;
  }
  forget();
  signals.dispose();
  // Anything still holding the event loop open (a stuck socket) must not keep bext alive.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
