/**
 * `[plugins.NAME.build]`: how `bext build` and `bext dev` rebuild a plugin's .wasm from source.
 *
 *   command = ["clang", "-o", "plugin.wasm", "plugin.c"]   # argv, run without a shell
 *   command = "cargo build --release && cp ... plugin.wasm" # a string runs through the shell
 *   watch   = ["*.c", "*.h"]     # source globs, relative to cwd; a change rebuilds under bext dev
 *   cwd     = "./plugins/hello"  # where the command runs; default: the config file's folder
 */
import path from 'node:path';
import picomatch from 'picomatch';
import type { PathSegment } from './locate.js';
import type { Problems } from './problems.js';
import type { BuildConfig } from './types.js';
import { checkKeys, readArray, readString, readTable, type Table } from './values.js';

export const BUILD_KEYS = ['command', 'watch', 'cwd'] as const;

const COMMAND_FORM = 'an argv array, e.g. ["clang", "-o", "plugin.wasm", "plugin.c"], or a shell command string';
const WATCH_FORM = 'an array of source globs relative to cwd, e.g. ["src/**/*.rs", "Cargo.toml"]';

/** Reads the build table, or returns undefined when there is none (or it is unusable). */
export function buildTable(
  t: Table,
  base: readonly PathSegment[],
  dir: string,
  ps: Problems,
  opts: { checkFiles: boolean; dirExists(p: string): boolean },
): BuildConfig | undefined {
  if (!Object.hasOwn(t, 'build')) return undefined;
  const p = [...base, 'build'];
  const bt = readTable(ps, p, t.build, `a table [plugins.${String(base[1])}.build] with command = ...`);
  if (!bt) return undefined;
  checkKeys(ps, p, bt, BUILD_KEYS);

  let command: string | string[] | undefined;
  if (!Object.hasOwn(bt, 'command')) ps.add([...p, 'command'], 'key', { what: 'missing', expected: COMMAND_FORM });
  else command = readCommand(ps, [...p, 'command'], bt.command);

  let watch: string[] = [];
  if (Object.hasOwn(bt, 'watch')) {
    watch = readArray(ps, [...p, 'watch'], bt.watch, WATCH_FORM, (ep, e) => readGlob(ps, ep, e)) ?? [];
  }

  let cwd = dir;
  if (Object.hasOwn(bt, 'cwd')) {
    const form = 'a folder, relative to the config file, e.g. "./plugins/hello"';
    const s = readString(ps, [...p, 'cwd'], bt.cwd, form, { nonEmpty: true });
    if (s !== undefined) {
      cwd = path.resolve(dir, s);
      if (opts.checkFiles && !opts.dirExists(cwd)) {
        ps.add([...p, 'cwd'], 'value', { what: `folder not found: ${cwd}`, expected: form, hint: `relative paths resolve against ${dir}` });
      }
    }
  }
  return command === undefined ? undefined : { command, watch, cwd };
}

function readCommand(ps: Problems, p: PathSegment[], v: unknown): string | string[] | undefined {
  if (typeof v === 'string') return readString(ps, p, v, COMMAND_FORM, { nonEmpty: true });
  if (!Array.isArray(v)) return readString(ps, p, v, COMMAND_FORM);
  if (v.length === 0) {
    ps.add(p, 'value', { what: 'empty array', expected: COMMAND_FORM });
    return undefined;
  }
  return readArray(ps, p, v, COMMAND_FORM, (ep, e) =>
    readString(ps, ep, e, 'a string (one argument)', { nonEmpty: ep[ep.length - 1] === 0 }),
  );
}

function readGlob(ps: Problems, p: PathSegment[], v: unknown): string | undefined {
  const s = readString(ps, p, v, 'a glob string, e.g. "src/**/*.rs"', { nonEmpty: true });
  if (s === undefined) return undefined;
  try {
    picomatch.makeRe(s, { strictBrackets: true });
  } catch (err) {
    ps.add(p, 'value', { what: `${JSON.stringify(s)} is not a valid glob (${(err as Error).message})`, expected: 'a glob string, e.g. "src/**/*.rs"' });
    return undefined;
  }
  return s;
}
