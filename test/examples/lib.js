// Shared helpers for the example-plugin tests: a private copy of plugins-example/ per test,
// `bext plugin run` as a subprocess with JSON output, and the demo collector in-process.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { BIN, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

export const EXAMPLES = path.join(ROOT, 'plugins-example');

/** Hooks each example exports (what `bext plugin inspect` must report). */
export const EXPECTED_HOOKS = {
  'my-analytics': ['cleanup', 'on_reload', 'on_request_complete', 'on_server_start'],
  'cache-auditor': ['on_cache_invalidate', 'on_cache_write', 'on_server_start'],
  'bot-counter': ['on_reload', 'on_request_complete', 'on_server_start', 'on_server_stop'],
  greedy: ['on_request_complete', 'on_server_start'],
};

export function pluginFile(name) {
  return path.join(EXAMPLES, 'plugins', name, 'plugin.wasm');
}

/**
 * Copies the example project (config, site, built plugins; no build folders or state) into a
 * temp dir. `edit(configText)` may rewrite the config. Returns { dir, config, cleanup }.
 */
export function copyProject(edit = (t) => t) {
  const dir = tempDir('bext-examples-');
  cpSync(EXAMPLES, dir, {
    recursive: true,
    filter: (src) => !/[/\\](target|\.bext|node_modules)([/\\]|$)/.test(path.relative(EXAMPLES, src) ? `/${path.relative(EXAMPLES, src)}` : ''),
  });
  const config = path.join(dir, 'bext.config.toml');
  writeFileSync(config, edit(readFileSync(config, 'utf8')));
  const cache = path.join(dir, '.bext', 'cache');
  seedFuelCache(cache);
  return {
    dir,
    config,
    cleanup: () => {
      shareFuelCache(cache);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Instrumented example plugins, shared by every project copy of a test run (test/run.js sets
 * BEXT_TEST_SHARED): `.bext/cache` files are named by the sha256 of their input and every option
 * that shapes them, and each carries a checksum, so a copy is as good as instrumenting again.
 * The rewriter itself is exercised by the first copy that needs a module, and by test/fuel.
 */
const SHARED_FUEL_CACHE = process.env.BEXT_TEST_SHARED ? path.join(process.env.BEXT_TEST_SHARED, 'fuel-cache') : null;

/** Copies the instrumented modules shared so far into `cache` (a project's .bext/cache). */
export function seedFuelCache(cache) {
  if (SHARED_FUEL_CACHE && existsSync(SHARED_FUEL_CACHE)) {
    cpSync(SHARED_FUEL_CACHE, cache, { recursive: true, filter: (src) => !path.basename(src).startsWith('.') });
  }
}

function shareFuelCache(cache) {
  if (!SHARED_FUEL_CACHE || !existsSync(cache)) return;
  mkdirSync(SHARED_FUEL_CACHE, { recursive: true });
  const known = new Set(readdirSync(SHARED_FUEL_CACHE));
  for (const name of readdirSync(cache)) {
    if (known.has(name) || !/\.(wasm|offsets)$/.test(name)) continue;
    // Copied under a private name, then renamed: a reader never sees half a file.
    const partial = path.join(SHARED_FUEL_CACHE, `.${name}.${process.pid}`);
    cpSync(path.join(cache, name), partial);
    renameSync(partial, path.join(SHARED_FUEL_CACHE, name));
  }
}

/**
 * Instruments the example plugins once, into the run's shared fuel cache, by starting each in a
 * plugin engine in this process: a file whose tests start side by side on fresh copies would
 * otherwise instrument the same modules once per copy (my-analytics alone ~0.4 s of CPU each).
 */
export async function warmFuelCache() {
  if (!SHARED_FUEL_CACHE) return;
  const [{ prepareHookCall }, { createPluginEngine }] = await Promise.all([
    import('../../dist/cli/commands/hook-call.js'),
    import('../../dist/plugins/engine.js'),
  ]);
  const p = copyProject();
  try {
    for (const name of Object.keys(EXPECTED_HOOKS)) {
      const t = await prepareHookCall(name, 'on_reload', { config: p.config });
      const handle = await createPluginEngine({ stateDir: t.stateDir, logging: { logOutcomes: false, logLevel: 'error', onLog: () => {} } }).start(t.plugin);
      await handle.close();
    }
  } finally {
    p.cleanup();
  }
}

/** Points my-analytics at a collector on `port` (endpoint and allowed_urls). */
export function withCollectorPort(port) {
  return (text) => text.replaceAll('http://127.0.0.1:4000', `http://127.0.0.1:${port}`);
}

/**
 * `bext plugin run NAME HOOK --json` in a project; resolves to { code, result, stderr, stdout }.
 * Asynchronous so an in-process HTTP server (the collector) can answer the plugin's fetches.
 */
export function runHook(config, plugin, hook, input, extra = []) {
  const args = ['plugin', 'run', plugin, hook, '--json', '-c', config, ...extra];
  if (input !== undefined) args.push('--input', typeof input === 'string' ? input : JSON.stringify(input));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
      cwd: path.dirname(config),
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      let result = null;
      try {
        result = JSON.parse(stdout);
      } catch {
        // left null: the assertion that follows shows stdout/stderr
      }
      resolve({ code, result, stdout, stderr });
    });
  });
}

/**
 * Calls one hook the way `bext plugin run NAME HOOK --json -c CONFIG` does, in this process: the
 * CLI's own prepareHookCall (flags, config lookup, hook arguments) and a fresh plugin engine per
 * call (a new instance and worker, state in the project's .bext/ as for the CLI), and the result
 * in the shape of the command's JSON. For the many follow-up calls of a test, which check what the
 * plugin does, not the command: the files that use it keep runHook (the CLI) for each plugin's
 * first calls and the failures whose exit code they check, and test/runtime/cli.test.js covers
 * the command's output.
 */
export async function callHook(config, plugin, hook, input, { cwd } = {}) {
  const [{ prepareHookCall }, { createPluginEngine }] = await Promise.all([
    import('../../dist/cli/commands/hook-call.js'),
    import('../../dist/plugins/engine.js'),
  ]);
  const t = await prepareHookCall(plugin, hook, {
    config,
    ...(input === undefined ? {} : { input: typeof input === 'string' ? input : JSON.stringify(input) }),
  });
  // A FILE target keeps its state in .bext/ of the working folder: `cwd`'s, as for a CLI run
  // there, never this process's (the repository).
  if (t.configFile === null) {
    if (cwd === undefined) throw new Error('callHook: a .wasm target needs { cwd } for its .bext/ folder');
    t.stateDir = path.join(cwd, '.bext');
  }
  const logs = [];
  const metrics = [];
  const engine = createPluginEngine({
    stateDir: t.stateDir,
    onMetric: (m) => metrics.push(m),
    logging: { logOutcomes: false, logLevel: 'trace', onLog: (e) => logs.push(e) },
  });
  const handle = await engine.start(t.plugin);
  let result;
  try {
    result = await handle.call(t.args);
  } finally {
    await handle.close();
  }
  return {
    code: result.outcome === 'ok' ? 0 : 1,
    result: {
      ...result,
      file: t.plugin.path,
      fuelPercent: result.budget > 0 ? (result.fuelUsed / result.budget) * 100 : 0,
      logs: logs.map(({ level, source, msg }) => ({ level, source, msg })),
      metrics: metrics.map(({ name, value, tags }) => ({ name, value, tags })),
    },
    stdout: '',
    stderr: '',
  };
}

/** A readable description of a run for assertion messages. */
export function show(r) {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}${r.stdout || !r.result ? '' : `\nresult: ${JSON.stringify(r.result)}`}`;
}

/**
 * Reads a plugin's storage straight from the project's state.db with the functions `bext plugin
 * storage` uses (test/host/storage-cli.test.js runs the command itself); `fn(db)` gets the open
 * database, or null when there is none yet.
 */
async function withStateDb(config, fn) {
  const [{ loadConfig }, { openStateDb, stateDbPath }] = await Promise.all([
    import('../../dist/config/index.js'),
    import('../../dist/host/state-db.js'),
  ]);
  const file = stateDbPath(loadConfig(config, { checkFiles: false }).stateDir);
  if (!existsSync(file)) return fn(null);
  const db = openStateDb(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A stored value as text (what `bext plugin storage NAME --get KEY` prints), or null when missing. */
export async function storageValue(config, plugin, key) {
  const { getValue } = await import('../../dist/host/storage/inspect.js');
  return withStateDb(config, (db) => {
    const value = db && getValue(db, plugin, key);
    return value ? value.toString('utf8') : null;
  });
}

/** Keys of a plugin's storage, sorted (what `bext plugin storage NAME` lists). */
export async function storageKeys(config, plugin) {
  const { listKeys } = await import('../../dist/host/storage/inspect.js');
  return withStateDb(config, (db) => (db ? listKeys(db, plugin).map((k) => k.key).sort() : []));
}

/**
 * One cargo target folder for every Rust build in these tests, kept between runs (in
 * node_modules/.cache, which git ignores and `npm ci` clears): dependencies compile once.
 */
export const CARGO_TARGET_DIR = path.join(ROOT, 'node_modules', '.cache', 'bext-test-cargo-target');

/** Polls `fn` every 100 ms until it returns something truthy (returned); fails naming `what`, with `more()`. */
export async function until(what, fn, ms = 20_000, more = () => '') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${more()}`.trimEnd());
    await new Promise((r) => setTimeout(r, 100));
  }
}
