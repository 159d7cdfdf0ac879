/**
 * What a one-off hook call from the command line needs (`plugin run`, `plugin profile`): the hook
 * name, the fuel and input flags, the hook's arguments, and which plugin a FILE|NAME target means.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { closest } from 'fastest-levenshtein';
import { BextError } from '../../errors.js';
import { HOOK_NAMES, type HookName, type PluginConfig } from '../../config/types.js';
import { DEFAULT_CONFIG_FILE, displayPath, findConfigFile, loadConfig } from '../../config/index.js';
import { noteConfigFile } from '../config-file.js';
import { defaultPluginConfig, type HookArgs } from '../../runtime/index.js';

const usage = (message: string, details: string[] = []): BextError => new BextError('usage', message, { details });

export function parseHook(hook: string): HookName {
  if ((HOOK_NAMES as readonly string[]).includes(hook)) return hook as HookName;
  const guess = closest(hook, [...HOOK_NAMES]);
  throw usage(`unknown hook "${hook}"${guess ? `; did you mean "${guess}"?` : ''}`, [`hooks: ${HOOK_NAMES.join(', ')}`]);
}

export function parseFuel(text: string): number {
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw usage(`--fuel must be a positive whole number, got "${text}"`);
  return n;
}

export function readInput(input: string | undefined): unknown {
  if (input === undefined) return undefined;
  let text = input;
  let from = '--input';
  if (input.startsWith('@')) {
    const file = input.slice(1);
    from = file;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw usage(`--input ${input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usage(`${from} is not valid JSON: ${(err as Error).message}`);
  }
}

const SAMPLE_EVENT = {
  path: '/',
  method: 'GET',
  status: 200,
  cache_status: 'MISS',
  render_time_us: 0,
  tenant_id: null,
  site_id: null,
  encoding: 'identity',
  is_bot: false,
};

/** Builds the hook's arguments from --input (or a sensible default). */
export function hookArgs(hook: HookName, input: unknown, plugin: PluginConfig): HookArgs {
  switch (hook) {
    case 'on_server_start':
      return { hook, configJson: JSON.stringify(input === undefined ? plugin.config : input) };
    case 'on_request_complete':
      return { hook, eventJson: JSON.stringify(input === undefined ? SAMPLE_EVENT : input) };
    case 'on_cache_write': {
      const v = (input ?? { key: 'page:/', tags: [] }) as { key?: unknown; tags?: unknown };
      if (typeof v !== 'object' || v === null || typeof v.key !== 'string') {
        throw usage('on_cache_write --input must be {"key": "page:/...", "tags": ["..."]}');
      }
      const tags = v.tags ?? [];
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw usage('on_cache_write --input: "tags" must be an array of strings');
      return { hook, key: v.key, tagsJson: JSON.stringify(tags) };
    }
    case 'on_cache_invalidate': {
      const v = (input ?? { pattern: 'page:*', count: 0 }) as { pattern?: unknown; count?: unknown };
      if (typeof v !== 'object' || v === null || typeof v.pattern !== 'string') {
        throw usage('on_cache_invalidate --input must be {"pattern": "page:/blog/*", "count": N}');
      }
      const count = v.count ?? 0;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 0x7fffffff) {
        throw usage('on_cache_invalidate --input: "count" must be a whole number from 0 to 2147483647');
      }
      return { hook, pattern: v.pattern, count };
    }
    default:
      if (input !== undefined) throw usage(`${hook} takes no input; drop --input`);
      return { hook };
  }
}

function looksLikeFile(target: string): boolean {
  if (target.endsWith('.wasm') || target.includes('/') || target.includes(path.sep)) return true;
  try {
    return statSync(target).isFile();
  } catch {
    return false;
  }
}

export interface Target {
  plugin: PluginConfig;
  stateDir: string;
  configFile: string | null;
}

/**
 * A FILE target runs with defaults; a NAME is looked up in the config (-c, else the nearest
 * bext.config.toml from the working folder up).
 */
export async function resolveTarget(target: string, configFlag: string | undefined): Promise<Target> {
  if (looksLikeFile(target)) {
    const plugin = defaultPluginConfig(target);
    return { plugin, stateDir: path.resolve('.bext'), configFile: null };
  }
  const configFile = configFlag ?? findConfigFile();
  if (configFile === null || !existsSync(configFile)) {
    const where = configFile === null ? `no ${DEFAULT_CONFIG_FILE} in ${process.cwd()} or any parent folder` : `there is no config file ${configFile}`;
    throw usage(`"${target}" is not a .wasm file, and ${where} to look it up in`, [
      'pass a path to a .wasm file, or -c bext.config.toml with a [plugins.NAME] table',
    ]);
  }
  const cfg = loadConfig(configFile, { checkFiles: false });
  noteConfigFile(configFlag, cfg);
  const plugin = cfg.plugins.find((p) => p.name === target);
  if (!plugin) {
    const names = cfg.plugins.map((p) => p.name);
    const guess = names.length ? closest(target, names) : undefined;
    throw usage(`no plugin named "${target}" in ${displayPath(cfg.file)}${guess ? `; did you mean "${guess}"?` : ''}`, [
      names.length ? `configured plugins: ${names.join(', ')}` : 'the config has no [plugins.*] tables',
    ]);
  }
  return { plugin, stateDir: cfg.stateDir, configFile: cfg.file };
}

export function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

export interface HookCallFlags {
  input?: string;
  fuel?: string;
  config?: string;
}

/** One hook call as the flags describe it: the plugin (its budget for this hook overridden by --fuel) and the hook's arguments. */
export interface HookCall extends Target {
  hook: HookName;
  args: HookArgs;
}

export async function prepareHookCall(target: string, hookName: string, flags: HookCallFlags): Promise<HookCall> {
  const hook = parseHook(hookName);
  const fuel = flags.fuel === undefined ? undefined : parseFuel(flags.fuel);
  const input = readInput(flags.input);
  const t = await resolveTarget(target, flags.config);
  const plugin: PluginConfig = fuel === undefined ? t.plugin : { ...t.plugin, fuel: { ...t.plugin.fuel, [hook]: fuel } };
  return { ...t, plugin, hook, args: hookArgs(hook, input, plugin) };
}
