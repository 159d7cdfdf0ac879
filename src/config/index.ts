/**
 * Loading `bext.config.toml`: read → parse (@iarna/toml) → locate keys → validate and fill
 * defaults → freeze. Every problem in a file is reported at once, each with file:line:col.
 *
 *   loadConfig(file)            throws BextError (exit 2) on any problem; for start-up
 *   findConfigFile(dir)         the nearest bext.config.toml from dir upwards (file omitted above)
 *   problemLines(cfg, list)     file:line:col lines for problems found after validation
 *   parseConfig(text, file)     never throws; for hot reload, where the old config stays
 *   configToJson(cfg)           plain JSON for printing / --json
 *   cliOverrides({port, host})  checks -p/--host flags before they override the file
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import TOML from '@iarna/toml';
import { BextError } from '../errors.js';
import { locate } from './locate.js';
import { findTooDeep, MAX_NESTING, type TooDeep } from './nesting.js';
import { formatProblem, Problems } from './problems.js';
import type { PathSegment } from './locate.js';
import { validate } from './schema.js';
import type { ResolvedConfig } from './types.js';
import { isTable } from './values.js';

export type { ResolvedConfig, PluginConfig, HookName, BuildConfig } from './types.js';
export { HOOK_NAMES, DEFAULT_FUEL } from './types.js';
export { DEFAULTS } from './schema.js';

export interface ConfigOverrides {
  port?: number;
  host?: string;
}

export interface LoadOptions {
  /** Check that enabled plugins' .wasm files (and an explicit server.root) exist. Default true. */
  checkFiles?: boolean;
  /** Command-line values that replace the file's server.port / server.host. */
  overrides?: ConfigOverrides;
}

export type ParseResult = { ok: true; config: ResolvedConfig } | { ok: false; error: BextError };

export const DEFAULT_CONFIG_FILE = 'bext.config.toml';

/**
 * The nearest `bext.config.toml` in `dir` or one of its parent folders (the way git finds
 * `.git` and Vite its config), so bext works from anywhere inside a site; null when none.
 */
export function findConfigFile(dir: string = process.cwd()): string | null {
  let at = path.resolve(dir);
  for (;;) {
    const candidate = path.join(at, DEFAULT_CONFIG_FILE);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: look one folder up
    }
    const up = path.dirname(at);
    if (up === at) return null;
    at = up;
  }
}

/** The error for a search that found no config: it names where the search started. */
export function configNotFound(dir: string = process.cwd()): BextError {
  return new BextError('config_missing', `no ${DEFAULT_CONFIG_FILE} in ${path.resolve(dir)} or any parent folder`, {
    details: ['  run "bext init" to create one here, or point at a config file with -c <file>'],
  });
}

/**
 * Reads, validates and freezes a config file; with no file, the one findConfigFile finds from the
 * working folder. Throws BextError (exit 2) on any problem.
 */
export function loadConfig(file: string | undefined, opts: LoadOptions = {}): ResolvedConfig {
  const found = file === undefined ? findConfigFile() : path.resolve(file);
  if (found === null) throw configNotFound();
  const abs = found;
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw readError(abs, err);
  }
  const r = parseConfig(text, abs, opts);
  if (!r.ok) throw r.error;
  return r.config;
}

/** Validates config text as if it were the file `file`. Never throws. */
export function parseConfig(source: string, file: string, opts: LoadOptions = {}): ParseResult {
  // Editors on Windows may save a byte-order mark, which the TOML parser rejects.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const abs = path.resolve(file);
  const shown = displayPath(abs);
  // Before the parser: it, the locator and validation all walk the nesting, some recursively.
  const deep = findTooDeep(text);
  if (deep) return { ok: false, error: tooDeepError(deep, text, shown) };
  let raw: unknown;
  try {
    raw = TOML.parse(text);
  } catch (err) {
    return { ok: false, error: syntaxError(err, text, shown) };
  }
  const ps = new Problems(locate(text));
  let config: ResolvedConfig;
  try {
    config = validate(isTable(raw) ? raw : {}, abs, ps, { checkFiles: opts.checkFiles ?? true });
  } catch (err) {
    if (err instanceof RangeError) {
      // The depth pass should have stopped this; a stack overflow is still the config's shape, not a bext bug.
      return {
        ok: false,
        error: new BextError('config_invalid', `${shown}: the config is nested too deeply to validate (${err.message})`),
      };
    }
    // A bug here must not take down a running server that is only reloading its config.
    return {
      ok: false,
      error: new BextError('config_internal', `${shown}: could not validate the config: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      }),
    };
  }
  if (ps.count > 0) {
    const n = ps.count;
    return {
      ok: false,
      error: new BextError('config_invalid', `${shown}: ${n} problem${n === 1 ? '' : 's'} in the config`, {
        details: ps.sorted().map((p) => formatProblem(p, shown)),
      }),
    };
  }
  const o = opts.overrides ?? {};
  if (o.port !== undefined) config.server.port = o.port;
  if (o.host !== undefined) config.server.host = o.host;
  return { ok: true, config: deepFreeze(config) };
}

/** A problem found after validation (in a plugin's module, say), reported at a key of the file. */
export interface KeyProblem {
  path: readonly PathSegment[];
  what: string;
}

/**
 * `  file:line:col  key.path: what` lines, as validation prints them, for problems found after
 * the config loaded; each points at the key's value in the file as it is now.
 */
export function problemLines(cfg: ResolvedConfig, problems: readonly KeyProblem[]): string[] {
  let text = '';
  try {
    text = readFileSync(cfg.file, 'utf8');
  } catch {
    // Changed since it loaded: the problems still print, at line 1.
  }
  const ps = new Problems(locate(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
  for (const p of problems) ps.add(p.path, 'value', { what: p.what });
  const shown = displayPath(cfg.file);
  return ps.sorted().map((p) => formatProblem(p, shown));
}

/** The resolved config as plain JSON values (a deep copy; safe to modify or print). */
export function configToJson(cfg: ResolvedConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>;
}

/** Checks `-p/--port` and `--host` flag values; a bad one is a usage error (exit 2). */
export function cliOverrides(flags: { port?: unknown; host?: unknown }): ConfigOverrides {
  const out: ConfigOverrides = {};
  if (flags.port !== undefined) {
    const s = String(flags.port).trim();
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      throw new BextError('usage', `invalid --port ${JSON.stringify(String(flags.port))}: expected an integer from 0 to 65535 (0 = any free port)`, {
      });
    }
    out.port = n;
  }
  if (flags.host !== undefined) {
    const s = String(flags.host).trim();
    if (s === '' || /[\s/]/.test(s)) {
      throw new BextError('usage', `invalid --host ${JSON.stringify(String(flags.host))}: expected a host name or IP address`, {
      });
    }
    out.host = s;
  }
  return out;
}

/** A path as the user would type it: relative to the working folder when inside it. */
export function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

function readError(abs: string, err: unknown): BextError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') {
    return new BextError('config_missing', `config file not found: ${abs}`, {
      details: [`  run "bext init" to create one here, or point at another file with -c <file>`],
    });
  }
  if (code === 'EISDIR') {
    return new BextError('config_missing', `config path is a folder, not a file: ${abs}`, {
      details: [`  try -c ${path.join(displayPath(abs), 'bext.config.toml')}`],
    });
  }
  return new BextError('config_unreadable', `cannot read config file ${abs}: ${(err as Error)?.message ?? String(err)}`, {
  });
}

interface TomlSyntaxError {
  message: string;
  line?: number;
  col?: number;
}

/** A TOML syntax error as file:line:col, the message, the source line and a caret. */
function syntaxError(err: unknown, text: string, shown: string): BextError {
  const e = err as TomlSyntaxError;
  // @iarna/toml appends its own position and excerpt to the message; keep only the message.
  const message = String(e?.message ?? err).split(' at row ')[0]!.trim();
  if (typeof e?.line !== 'number' || typeof e?.col !== 'number') {
    return new BextError('config_invalid', `${shown}: TOML syntax error: ${message}`);
  }
  const lines = text.split(/\r?\n/);
  const source = lines[e.line] ?? '';
  let col = e.col;
  let what = message;
  if (message.startsWith("Can't redefine existing key")) {
    // The parser points past the end of the line; point at the key (or header) written twice.
    const dup = redefined(source);
    if (dup) {
      col = dup.col;
      what = `${dup.name} is defined twice (each key and [table] can be written only once)`;
    }
  }
  // @iarna/toml swallows the line break after a bare local time, so the next line looks wrong.
  const previous = lines[e.line - 1] ?? '';
  if (col === 0 && /=\s*\d{2}:\d{2}:\d{2}$/.test(previous)) {
    what += ' (the line before ends with a local time: add a comment after it, e.g. 07:32:00 # time, or quote it)';
  }
  const lineNo = e.line + 1;
  const gutter = String(lineNo).length;
  // Copy tabs into the caret line so the caret sits under the right character.
  const pad = source.slice(0, col).replace(/[^\t]/g, ' ') + ' '.repeat(Math.max(0, col - source.length));
  return new BextError('config_invalid', `${shown}: TOML syntax error`, {
    details: [`  ${shown}:${lineNo}:${col + 1}  ${what}`, `  ${lineNo} | ${source}`, `  ${' '.repeat(gutter)} | ${pad}^`],
  });
}

/** Nesting past MAX_NESTING as file:line:col with the start of the offending line (which may be huge). */
function tooDeepError(deep: TooDeep, text: string, shown: string): BextError {
  let start = 0;
  for (let l = 1; l < deep.line; l++) start = text.indexOf('\n', start) + 1;
  const end = text.indexOf('\n', start);
  const source = text.slice(start, end < 0 ? text.length : end).replace(/\r$/, '');
  const from = Math.max(0, deep.col - 60);
  const excerpt = `${from > 0 ? '…' : ''}${source.slice(from, deep.col + 20)}${source.length > deep.col + 20 ? '…' : ''}`;
  const caret = ' '.repeat(deep.col - 1 - from + (from > 0 ? 1 : 0));
  const gutter = String(deep.line).length;
  return new BextError('config_invalid', `${shown}: nesting too deep`, {
    details: [
      `  ${shown}:${deep.line}:${deep.col}  more than ${MAX_NESTING} levels of tables, dotted keys, arrays and inline tables; ` +
        `a bext config needs far fewer`,
      `  ${deep.line} | ${excerpt}`,
      `  ${' '.repeat(gutter)} | ${caret}^`,
    ],
  });
}

/** The key or [table] a line defines, for "defined twice" errors; not for inline tables. */
function redefined(line: string): { name: string; col: number } | undefined {
  const header = /^(\s*)(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
  if (header) return { name: `[${header[3]}]`, col: header[1]!.length };
  const kv = /^(\s*)([^=#]+?)\s*=\s*([^{\s])/.exec(line);
  if (kv) return { name: kv[2]!, col: kv[1]!.length };
  return undefined;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
