/**
 * bext's logger. pino everywhere; on stderr, one readable line per log call when stderr is a
 * terminal (src/log/pretty.ts), JSON lines otherwise (`BEXT_LOG_FORMAT=json|pretty` forces one).
 * Logs go to stderr so command output on stdout (tables, --json) stays machine-readable.
 *
 * BEXT_LOG sets bext's own level (default info). BEXT_PLUGIN_LOG sets the level for what plugins
 * say (their `log` calls, WASI stdout/stderr, traps): default warn, `debug` shows everything.
 * Colour follows the terminal; NO_COLOR (non-empty) turns it off, FORCE_COLOR turns it on
 * where NO_COLOR is not set.
 *
 * Writing is buffered and asynchronous on the main thread (src/log/sink.ts), flushed on exit.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Logger, Level } from 'pino';
import { BextError } from './errors.js';
import { thousands } from './format.js';
import { createCauseLog, repeatsSuffix, type CauseLog } from './log/cause-log.js';
import { prettyLine } from './log/pretty.js';
import { createSink, type Destination, type Sink } from './log/sink.js';

// pino loads with the first logger, not with this module: plugin workers import the host
// capabilities (which can log a host failure) but most never log, and loading it costs more
// than starting the worker itself.
const load = createRequire(import.meta.url);

export type { Logger };

const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** Bytes of log output held while stderr is slow; past it, lines are dropped and counted. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** The name column never grows past this (longer names push the line right). */
const MAX_NAME_WIDTH = 24;

function levelFrom(value: string | undefined, fallback: Level | 'silent'): Level | 'silent' {
  const v = (value ?? '').trim().toLowerCase();
  return LEVELS.includes(v) ? (v as Level | 'silent') : fallback;
}

/**
 * Refuses a BEXT_LOG or BEXT_PLUGIN_LOG that names no level (exit 2): `verbose` quietly meaning
 * the default hides exactly the output it asked for. Unset or empty means the default.
 */
export function checkLogLevels(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ['BEXT_LOG', 'BEXT_PLUGIN_LOG'] as const) {
    const v = (env[name] ?? '').trim().toLowerCase();
    if (v !== '' && !LEVELS.includes(v)) {
      throw new BextError('usage', `${name}=${JSON.stringify(env[name])} is not a log level; use one of ${LEVELS.join(', ')}`, {
        details: [`  e.g. ${name}=debug (the default is ${name === 'BEXT_LOG' ? 'info' : 'warn'})`],
      });
    }
  }
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

/** https://no-color.org: a non-empty NO_COLOR wins; FORCE_COLOR (not 0/false) colours a pipe. */
export function wantsColour(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTTY;
}

let root: Logger | undefined;
let pluginRoot: Logger | undefined;
let sink: Sink | undefined;
let nameWidth = 4;
const taps = new Set<(line: string) => void>();

/**
 * Also hands every line that passes the level filters (bext's and the plugins') to `fn`, as the
 * JSON line pino wrote, before it is formatted; for the dashboard's live log. Returns the undo.
 */
export function tapLogs(fn: (line: string) => void): () => void {
  taps.add(fn);
  return () => taps.delete(fn);
}

/** The process-wide logger (created on first use so `bext --help` never pays for it). */
export function logger(): Logger {
  if (root) return root;
  // The root logger lets everything through; each child filters at its own level, so plugin
  // output can be more verbose than bext's own (BEXT_PLUGIN_LOG=debug with BEXT_LOG=info).
  const { pino } = load('pino') as typeof import('pino');
  const pretty = wantsPretty();
  const colour = wantsColour(process.stderr.isTTY === true);
  // A worker logs rarely and may exit at once: it writes synchronously.
  // (node:worker_threads loads here, with pino, not with this module: a few ms of every command.)
  const { isMainThread } = load('node:worker_threads') as typeof import('node:worker_threads');
  const dest = pino.destination({ dest: 2, sync: !isMainThread, minLength: 0, maxLength: MAX_BUFFERED_BYTES }) as unknown as Destination;
  const notice = (dropped: number): string => {
    const rec = { level: 40, time: new Date().toISOString(), dropped, msg: `${thousands(dropped)} log lines dropped: stderr could not keep up` };
    return pretty ? prettyLine(rec, { colour, nameWidth }) : JSON.stringify(rec) + '\n';
  };
  const out = createSink(dest, notice);
  sink = out;
  const stream = {
    write(line: string): void {
      for (const tap of taps) tap(line);
      if (!pretty) return out.write(line);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return out.write(line);
      }
      out.write(prettyLine(rec, { colour, nameWidth }));
    },
  };
  const base = pino({ level: 'trace', base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stream);
  root = base.child({}, { level: bextLevel() });
  pluginRoot = base.child({}, { level: pluginLevel() });
  // pino flushes its destination on exit; counts still pending go out first, then everything.
  process.once('exit', () => {
    causes?.flush(true);
    out.flushSync();
  });
  return root;
}

/** Widens the name column for these plugin names (before they log, so the column stays put). */
export function logNames(names: readonly string[]): void {
  for (const name of names) nameWidth = Math.min(MAX_NAME_WIDTH, Math.max(nameWidth, name.length));
}

/** Logger for what a plugin says; filtered by BEXT_PLUGIN_LOG. */
export function pluginLogger(name: string): Logger {
  logger();
  logNames([name]);
  return pluginRoot!.child({ plugin: name });
}

/**
 * A one-line status on a terminal (`bext dev`'s loading progress), written in order with the
 * log lines and cleared before the next one; null clears it.
 */
export function statusLine(text: string | null): void {
  logger();
  sink!.status(text);
}

/** Writes out buffered log lines now (before output on stdout that must come after them). */
export function flushLogs(): void {
  sink?.flushSync();
}

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
interface Occurrence {
  log: Logger;
  level: LogLevel;
  fields: Record<string, unknown>;
  msg: string;
}

/** How long a cause stays quiet after its first line: repeats within it are counted. */
export const CAUSE_WINDOW_MS = 10_000;
let causes: CauseLog<Occurrence> | undefined;

/**
 * Logs one line per cause: the first occurrence of `key` at once, the ones after it within
 * CAUSE_WINDOW_MS counted and written as one line with `repeated: N`. For what a guest can make
 * the host say in a loop (refused fetches, bad metric samples, the same failure on every call).
 * `log` is the logger to write with (a plugin's, to follow BEXT_PLUGIN_LOG); default bext's.
 */
export function logPerCause(key: string, level: LogLevel, fields: Record<string, unknown>, msg: string, log: Logger = logger()): void {
  causes ??= createCauseLog<Occurrence>(
    (o, repeats, overMs) => {
      const more = repeats > 0 ? { repeated: repeats } : {};
      o.log[o.level]({ ...o.fields, ...more }, o.msg + repeatsSuffix(repeats, overMs));
    },
    { windowMs: CAUSE_WINDOW_MS, maxCauses: 1_000, now: () => performance.now() },
  );
  causes.note(key, { log, level, fields, msg });
}
