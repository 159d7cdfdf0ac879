/**
 * bext's logger. pino everywhere; pretty (pino-pretty) when stderr is a TTY, JSON lines otherwise.
 * Logs go to stderr so command output on stdout (tables, --json) stays machine-readable.
 *
 * BEXT_LOG sets bext's own level (default info). BEXT_PLUGIN_LOG sets the level for what plugins
 * say (their `log` calls, WASI stdout/stderr, traps): default warn, `debug` shows everything.
 */
import { createRequire } from 'node:module';
import type { Logger, Level } from 'pino';

// pino and pino-pretty load with the first logger, not with this module: plugin workers import
// the host capabilities (which can log a host failure) but most never log, and loading both costs
// more than starting the worker itself.
const load = createRequire(import.meta.url);

export type { Logger };

const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function levelFrom(value: string | undefined, fallback: Level | 'silent'): Level | 'silent' {
  const v = (value ?? '').trim().toLowerCase();
  return LEVELS.includes(v) ? (v as Level | 'silent') : fallback;
}

export function bextLevel(): Level | 'silent' {
  return levelFrom(process.env.BEXT_LOG, 'info');
}

export function pluginLevel(): Level | 'silent' {
  return levelFrom(process.env.BEXT_PLUGIN_LOG, 'warn');
}

function wantsPretty(): boolean {
  const forced = process.env.BEXT_LOG_FORMAT;
  if (forced === 'json') return false;
  if (forced === 'pretty') return true;
  return process.stderr.isTTY === true;
}

function colour(): boolean {
  return process.env.NO_COLOR === undefined && process.stderr.isTTY === true;
}

let root: Logger | undefined;

/** The process-wide logger (created on first use so `bext --help` never pays for it). */
export function logger(): Logger {
  if (root) return root;
  // The root logger lets everything through; each child filters at its own level, so plugin
  // output can be more verbose than bext's own (BEXT_PLUGIN_LOG=debug with BEXT_LOG=info).
  const { pino } = load('pino') as typeof import('pino');
  const pretty = load('pino-pretty') as typeof import('pino-pretty');
  const opts = { level: 'trace', base: undefined, timestamp: pino.stdTimeFunctions.isoTime };
  const stream = wantsPretty()
    ? pretty({ colorize: colour(), sync: true, destination: 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' })
    : pino.destination({ dest: 2, sync: true });
  const base = pino(opts, stream);
  root = base.child({}, { level: bextLevel() });
  pluginRoot = base.child({}, { level: pluginLevel() });
  return root;
}

let pluginRoot: Logger | undefined;

/** Logger for what a plugin says; filtered by BEXT_PLUGIN_LOG. */
export function pluginLogger(name: string): Logger {
  logger();
  return pluginRoot!.child({ plugin: name });
}

