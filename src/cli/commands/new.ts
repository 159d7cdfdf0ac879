/**
 * `bext new plugin NAME --lang rust|c|assemblyscript [--hooks a,b] [--dir DIR] [--dry-run]`:
 * writes a plugin project that builds against the SDK bext came with, and appends its
 * `[plugins.NAME]` entry, with a `[plugins.NAME.build]` recipe, to bext.config.toml. Nothing is
 * written when the folder exists, the config already has that plugin, or the new config would
 * not validate; --dry-run prints every file and the config entry instead.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import TOML from '@iarna/toml';
import { configNotFound, displayPath, findConfigFile, parseConfig } from '../../config/index.js';
import { HOOK_NAMES, type HookName } from '../../config/types.js';
import { BextError } from '../../errors.js';
import { LANGUAGES, scaffold, type Language, type Scaffold } from '../scaffold/templates.js';

export interface NewPluginOptions {
  config?: string;
  lang?: string;
  hooks?: string;
  dir?: string;
  dryRun?: boolean;
}

/** Plugin names: a config table name, a Cargo package name and a file name all at once. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const DEFAULT_HOOKS: readonly HookName[] = ['on_server_start', 'on_request_complete'];

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new BextError('usage', `invalid plugin name ${JSON.stringify(name)}`, {
      details: ['  a letter, then letters, digits, "-" or "_" (at most 64), e.g. my-plugin'],
    });
  }
}

function checkLang(lang: string | undefined): Language {
  const l = (lang ?? '').toLowerCase();
  const alias: Record<string, Language> = { rs: 'rust', as: 'assemblyscript' };
  const found = (LANGUAGES as readonly string[]).includes(l) ? (l as Language) : alias[l];
  if (!found) {
    throw new BextError('usage', lang === undefined ? '--lang is required' : `unknown language ${JSON.stringify(lang)}`, {
      details: [`  --lang ${LANGUAGES.join('|')}`],
    });
  }
  return found;
}

function checkHooks(list: string | undefined): HookName[] {
  if (list === undefined) return [...DEFAULT_HOOKS];
  const hooks = list.split(',').map((h) => h.trim()).filter(Boolean);
  const bad = hooks.filter((h) => !(HOOK_NAMES as readonly string[]).includes(h));
  if (hooks.length === 0 || bad.length > 0) {
    throw new BextError('usage', hooks.length === 0 ? '--hooks names no hook' : `unknown hook${bad.length === 1 ? '' : 's'} ${bad.join(', ')}`, {
      details: [`  --hooks takes a comma-separated list of: ${HOOK_NAMES.join(', ')}`],
    });
  }
  // In the ABI's order, once each.
  return HOOK_NAMES.filter((h) => hooks.includes(h));
}

/** A path for the config file: relative to its folder, forward slashes, starting with ./ or ../. */
function configPath(configDir: string, abs: string): string {
  const rel = path.relative(configDir, abs).split(path.sep).join('/');
  if (rel === '') return '.';
  return rel.startsWith('../') || path.isAbsolute(rel) ? rel : `./${rel}`;
}

function tomlString(s: string): string {
  return JSON.stringify(s);
}

export function configEntry(name: string, configDir: string, dir: string, s: Scaffold): string {
  const cwd = configPath(configDir, dir);
  return [
    `[plugins.${name}]`,
    `path = ${tomlString(configPath(configDir, path.join(dir, s.wasm)))}`,
    '',
    `# bext build ${name} runs this; bext dev runs it when a watched source changes.`,
    `[plugins.${name}.build]`,
    `command = ${typeof s.command === 'string' ? tomlString(s.command) : `[${s.command.map(tomlString).join(', ')}]`}`,
    `watch = [${s.watch.map(tomlString).join(', ')}]`,
    `cwd = ${tomlString(cwd)}`,
    '',
  ].join('\n');
}

export async function run(kind: string, name: string, opts: NewPluginOptions): Promise<number> {
  if (kind !== 'plugin') throw new BextError('usage', `bext new ${kind}: unknown; bext new plugin NAME --lang ${LANGUAGES.join('|')}`);
  checkName(name);
  const lang = checkLang(opts.lang);
  const hooks = checkHooks(opts.hooks);

  const configFile = opts.config !== undefined ? path.resolve(opts.config) : findConfigFile();
  if (configFile === null) throw configNotFound();
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (err) {
    throw new BextError('config_unreadable', `cannot read ${displayPath(configFile)}: ${(err as Error).message}`, {
      details: ['  run "bext init" first to create a site, or point at its config with -c FILE'],
    });
  }
  const configDir = path.dirname(configFile);
  const dir = path.resolve(opts.dir ?? path.join(configDir, 'plugins', name));

  if (existsSync(dir)) {
    throw new BextError('init_exists', `not overwriting ${displayPath(dir)}: it already exists`, {
      details: ['  choose another name, or another folder with --dir DIR'],
    });
  }
  if (hasPlugin(text, name)) {
    throw new BextError('init_exists', `${displayPath(configFile)} already has [plugins.${name}]`, {
      details: ['  choose another name, or remove that entry first'],
    });
  }

  const s = scaffold(lang, { name, hooks, dir });
  const entry = configEntry(name, configDir, dir, s);
  const separator = text === '' || text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  const nextText = `${text}${separator}${entry}`;
  // The file as it will be must still validate (the .wasm need not exist yet: bext builds it).
  const check = parseConfig(nextText, configFile, { checkFiles: false });
  if (!check.ok) {
    throw new BextError('config_invalid', `adding [plugins.${name}] to ${displayPath(configFile)} would not validate: ${check.error.message}`, {
      details: check.error.details,
    });
  }

  if (opts.dryRun) {
    const out: string[] = [`would write ${displayPath(dir)}/ (${lang}):`];
    for (const f of s.files) out.push('', `--- ${displayPath(path.join(dir, f.rel))}`, f.text.trimEnd());
    out.push('', `--- would append to ${displayPath(configFile)}`, entry.trimEnd(), '', 'nothing written (--dry-run)');
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  }

  for (const f of s.files) {
    const file = path.join(dir, f.rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, f.text);
    process.stdout.write(`wrote  ${displayPath(file)}\n`);
  }
  appendFileSync(configFile, `${separator}${entry}`);
  process.stdout.write(`added  [plugins.${name}] and [plugins.${name}.build] to ${displayPath(configFile)}\n`);
  process.stdout.write(
    `\nNext:\n  ${`bext build ${name}`.padEnd(24)}build it (needs ${s.needs})\n` +
      `  ${'bext dev'.padEnd(24)}serve with it; saving a source rebuilds and reloads it\n`,
  );
  return 0;
}

/** Whether the config text already has a plugin of that name (a text that does not parse: the later validation says why). */
function hasPlugin(text: string, name: string): boolean {
  try {
    const raw = TOML.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as Record<string, unknown>;
    const plugins = raw.plugins;
    return typeof plugins === 'object' && plugins !== null && Object.hasOwn(plugins, name);
  } catch {
    return false;
  }
}
