/**
 * Running one plugin's `[plugins.NAME.build]` command (for `bext build` and `bext dev`), and
 * deciding whether its .wasm is out of date: missing, or older than a watched source.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import picomatch from 'picomatch';
import type { BuildConfig, PluginConfig } from '../config/types.js';

// node:child_process (with net, dgram and streams: ~8 ms) loads with the first build, not with
// this module: `bext config check` and a `bext dev` without build recipes never spawn one.
const load = createRequire(import.meta.url);

/** Folders never searched for sources: dependencies, VCS data, build output. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'target', '.bext']);

/** Compiler output kept per build; the end is what explains a failure. */
const MAX_OUTPUT_CHARS = 64 * 1024;

export interface BuildResult {
  ok: boolean;
  /** Exit code, or null when the command was killed or could not start. */
  code: number | null;
  /** What went wrong in one line (absent when ok). */
  error?: string;
  /** The command's stdout and stderr, interleaved as written (trimmed, tail kept). */
  output: string;
  ms: number;
}

export interface RunningBuild {
  done: Promise<BuildResult>;
  /** Stops the build (the command; a shell command's own children finish on their own). */
  kill(): void;
}

/** The command as people read it, for log lines. */
export function describeCommand(cmd: BuildConfig['command']): string {
  if (typeof cmd === 'string') return cmd;
  return cmd.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Starts a plugin's build. The promise never rejects: every failure is a result. */
export function startBuild(plugin: PluginConfig): RunningBuild {
  const build = plugin.build;
  if (!build) throw new Error(`plugin ${plugin.name} has no build table`);
  const started = performance.now();
  let output = '';
  const append = (chunk: Buffer | string): void => {
    output += chunk.toString();
    if (output.length > 2 * MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
  };
  let child: ChildProcess;
  // In bext's process group: Ctrl-C in the terminal stops the compiler too, and nothing outlives bext.
  const { spawn } = load('node:child_process') as typeof import('node:child_process');
  const common: SpawnOptions = { cwd: build.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env };
  try {
    child = typeof build.command === 'string'
      ? spawn(build.command, { ...common, shell: true })
      : spawn(build.command[0]!, build.command.slice(1), common);
  } catch (err) {
    const ms = Math.round(performance.now() - started);
    return { done: Promise.resolve({ ok: false, code: null, error: `could not start: ${(err as Error).message}`, output: '', ms }), kill() {} };
  }
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const done = new Promise<BuildResult>((resolve) => {
    let spawnError: Error | null = null;
    child.once('error', (err) => (spawnError = err));
    child.once('close', (code, signal) => {
      const ms = Math.round(performance.now() - started);
      const out = tail(output.trim());
      if (spawnError) {
        const e = spawnError as NodeJS.ErrnoException;
        const what = e.code === 'ENOENT' ? `${describeCommand(Array.isArray(build.command) ? build.command[0]! : build.command)}: command not found` : e.message;
        resolve({ ok: false, code: null, error: `could not start: ${what}`, output: out, ms });
      } else if (signal) {
        resolve({ ok: false, code: null, error: `stopped by ${signal}`, output: out, ms });
      } else if (code !== 0) {
        resolve({ ok: false, code, error: `exit code ${code}`, output: out, ms });
      } else if (!isFile(plugin.path)) {
        resolve({ ok: false, code, error: `the command succeeded but ${plugin.path} does not exist`, output: out, ms });
      } else {
        resolve({ ok: true, code, output: out, ms });
      }
    });
  });
  return {
    done,
    kill() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    },
  };
}

function tail(s: string): string {
  return s.length > MAX_OUTPUT_CHARS ? `…${s.slice(-MAX_OUTPUT_CHARS)}` : s;
}

/** A build that had nothing to do may leave the file as it was: that it exists is what counts. */
function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Why the plugin's .wasm needs a build, or null when it is newer than every watched source. */
export function staleReason(plugin: PluginConfig): string | null {
  const build = plugin.build;
  if (!build) return null;
  let built: number;
  try {
    built = statSync(plugin.path).mtimeMs;
  } catch {
    return `${path.basename(plugin.path)} does not exist yet`;
  }
  const newer = sourceFiles(build).find((f) => {
    try {
      return statSync(f).mtimeMs > built;
    } catch {
      return false;
    }
  });
  return newer ? `${path.relative(build.cwd, newer) || newer} is newer than ${path.basename(plugin.path)}` : null;
}

/** A predicate for absolute paths matching one of the build's watch globs. */
export function sourceMatcher(build: BuildConfig): (abs: string) => boolean {
  if (build.watch.length === 0) return () => false;
  const match = picomatch(build.watch.map(toPosix), { dot: true });
  return (abs) => {
    const rel = path.relative(build.cwd, abs);
    if (rel === '' || path.isAbsolute(rel)) return false;
    return match(toPosix(rel)) || match(toPosix(abs));
  };
}

/** The folders to watch for the build's globs (each glob's fixed leading part). */
export function sourceRoots(build: BuildConfig): string[] {
  const roots = new Set<string>();
  for (const g of build.watch) {
    const base = picomatch.scan(toPosix(g)).base;
    roots.add(path.resolve(build.cwd, base === '' ? '.' : base));
  }
  return [...roots];
}

/** Every existing file the watch globs match. */
export function sourceFiles(build: BuildConfig): string[] {
  const matches = sourceMatcher(build);
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string, depth: number): void => {
    if (depth > 32 || seen.has(dir)) return;
    seen.add(dir);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) walk(abs, depth + 1);
      } else if (matches(abs)) {
        out.push(abs);
      }
    }
  };
  for (const root of sourceRoots(build)) {
    let st;
    try {
      st = statSync(root);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(root, 0);
    else if (matches(root)) out.push(root);
  }
  return out;
}

export function isSkippedDir(name: string): boolean {
  return SKIPPED_DIRS.has(name);
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}
