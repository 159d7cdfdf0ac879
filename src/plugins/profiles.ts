/**
 * Fuel profiles as files, and `BEXT_PROFILE` for `bext dev`: profile the next N calls of one
 * plugin's hook on live traffic and write the result under `.bext/profiles/` (docs/debugging.md).
 *
 *   BEXT_PROFILE=NAME[:HOOK][:N][,NAME…]     HOOK defaults to on_request_complete, N to 10
 *
 * The named plugin runs as a profiling build until its N calls are profiled (a reload keeps
 * counting), then it is loaded normally the next time it reloads.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageVersion } from '../package.js';
import { BextError } from '../errors.js';
import { HOOK_NAMES, type HookName, type PluginConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { mergeProfiles, toFolded, toSpeedscope, type CallProfile, type CallResult, type ProfileRequest } from '../runtime/index.js';

const DEFAULT_HOOK: HookName = 'on_request_complete';
const DEFAULT_CALLS = 10;

export interface ProfileSpec {
  plugin: string;
  hook: HookName;
  calls: number;
}

const usage = (message: string): BextError =>
  new BextError('usage', `BEXT_PROFILE: ${message}`, { details: ['expected NAME[:HOOK][:N], e.g. BEXT_PROFILE=my-analytics:on_request_complete:20'] });

/** Parses BEXT_PROFILE. Throws BextError (exit 2) naming what is wrong. */
export function parseProfileSpecs(value: string): ProfileSpec[] {
  const specs: ProfileSpec[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const fields = part.split(':');
    const plugin = fields.shift()!;
    if (plugin === '') throw usage(`"${part}" has no plugin name`);
    let hook = DEFAULT_HOOK;
    let calls = DEFAULT_CALLS;
    if (fields.length > 0 && !/^\d+$/.test(fields[0]!)) {
      const h = fields.shift()!;
      if (!(HOOK_NAMES as readonly string[]).includes(h)) throw usage(`unknown hook "${h}" (hooks: ${HOOK_NAMES.join(', ')})`);
      hook = h as HookName;
    }
    if (fields.length > 0) {
      const n = fields.shift()!;
      calls = /^\d+$/.test(n) ? Number(n) : NaN;
      if (!Number.isSafeInteger(calls) || calls <= 0) throw usage(`the number of calls must be a positive whole number, got "${n}"`);
    }
    if (fields.length > 0) throw usage(`"${part}" has too many fields`);
    specs.push({ plugin, hook, calls });
  }
  if (specs.length === 0) throw usage('empty value');
  return specs;
}

/** `bext 0.1.0`: the exporter speedscope files name. */
export function bextVersion(): string {
  return `bext ${packageVersion()}`;
}

export interface ProfileFiles {
  speedscope: string;
  folded: string;
}

/** Writes `<stem>.speedscope.json` and `<stem>.folded` (atomically: viewers may watch the folder). */
export function writeProfileFiles(profile: CallProfile, stemPath: string, title: string): ProfileFiles {
  mkdirSync(path.dirname(stemPath), { recursive: true });
  const files = { speedscope: `${stemPath}.speedscope.json`, folded: `${stemPath}.folded` };
  writeAtomic(files.speedscope, JSON.stringify(toSpeedscope(profile, title, bextVersion())) + '\n');
  writeAtomic(files.folded, toFolded(profile));
  return files;
}

export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** A path under the working directory as a relative one (shorter log lines). */
function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** `my-analytics-on_request_complete-20250101-120304` (local time). */
export function profileStem(plugin: string, hook: HookName, at = new Date()): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${at.getFullYear()}${p2(at.getMonth() + 1)}${p2(at.getDate())}-${p2(at.getHours())}${p2(at.getMinutes())}${p2(at.getSeconds())}`;
  return `${plugin.replace(/[^A-Za-z0-9._-]/g, '_')}-${hook}-${stamp}`;
}

/**
 * What the plugin engine asks for each plugin it starts, from BEXT_PROFILE: a profile request for
 * the plugins it names while they still have calls to profile. Each profiled call rewrites that
 * spec's files with everything profiled so far, so they are useful even if traffic stops early.
 */
export function profilerFromEnv(
  value: string | undefined,
  opts: { stateDir: string; log: Logger; plugins: readonly string[] },
): ((plugin: PluginConfig) => ProfileRequest | undefined) | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const specs = parseProfileSpecs(value);
  for (const s of specs) {
    if (!opts.plugins.includes(s.plugin)) opts.log.warn(`BEXT_PROFILE names "${s.plugin}", which is not a configured plugin (${opts.plugins.join(', ') || 'none'})`);
  }
  const state = specs.map((spec) => ({ spec, left: spec.calls, profiles: [] as CallProfile[], stem: '' }));
  return (plugin) => {
    const s = state.find((x) => x.spec.plugin === plugin.name);
    if (!s || s.left <= 0) return undefined;
    if (s.stem === '') {
      s.stem = path.join(opts.stateDir, 'profiles', profileStem(plugin.name, s.spec.hook));
      opts.log.info(`profiling the next ${s.spec.calls} ${s.spec.hook} calls of plugin "${plugin.name}" (BEXT_PROFILE)`);
    }
    return {
      hook: s.spec.hook,
      calls: s.left,
      onProfile: (result: CallResult) => {
        if (!result.profile || s.left <= 0) return;
        s.left--;
        s.profiles.push(result.profile);
        const done = s.spec.calls - s.left;
        try {
          const files = writeProfileFiles(mergeProfiles(s.profiles), s.stem, `${plugin.name} ${s.spec.hook} (${done} calls)`);
          const msg = `fuel profile of "${plugin.name}" ${s.spec.hook}, ${done} of ${s.spec.calls} calls: ${relative(files.speedscope)} (and .folded)`;
          if (s.left === 0 || done === 1) opts.log.info(msg);
          else opts.log.debug(msg);
        } catch (err) {
          opts.log.warn(`writing the fuel profile of "${plugin.name}" failed: ${(err as Error).message}`);
        }
      },
    };
  };
}
