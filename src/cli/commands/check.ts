/**
 * `bext config check [--json] [--no-plugins]` and `bext dev --check`: validate the config, load
 * and check every enabled plugin's module the way starting it would (without running anything),
 * and print the config resolved. Problems are thrown as BextError (stderr, exit 2): the config's
 * own by loadConfig, the modules' here, each as `file:line:col  plugins.NAME.path: problem`.
 */
import { existsSync } from 'node:fs';
import { cliOverrides, configToJson, displayPath, loadConfig, problemLines, type KeyProblem } from '../../config/index.js';
import { HOOK_NAMES, type PluginConfig, type ResolvedConfig } from '../../config/types.js';
import { BextError } from '../../errors.js';
import { thousands } from '../../format.js';
import { describeCommand } from '../../server/plugin-build.js';
import { noteConfigFile } from '../config-file.js';

export interface CheckOptions {
  config?: string;
  json?: boolean;
  port?: string | number;
  host?: string;
  /** False with --no-plugins: skip reading the plugins' modules. */
  plugins?: boolean;
}

export async function run(opts: CheckOptions): Promise<number> {
  const overrides = cliOverrides({ port: opts.port, host: opts.host });
  const cfg = loadConfig(opts.config, { overrides });
  noteConfigFile(opts.config, cfg);
  const modules = opts.plugins === false ? null : await checkModules(cfg);
  process.stdout.write(opts.json ? `${JSON.stringify(configToJson(cfg), null, 2)}\n` : render(cfg, modules));
  return 0;
}

/** How many enabled plugins' modules were checked; null when --no-plugins skipped them. */
type ModulesChecked = number | null;

/**
 * Every enabled plugin's module through the engine's own checks (src/plugins). Problems throw,
 * all of them at once; warnings go to stderr and do not fail the check.
 */
async function checkModules(cfg: ResolvedConfig): Promise<ModulesChecked> {
  const enabled = cfg.plugins.filter((p) => p.enabled);
  if (enabled.length === 0) return 0;
  const { checkPluginModule } = await import('../../plugins/engine.js');
  const problems: KeyProblem[] = [];
  const warnings: KeyProblem[] = [];
  let checked = 0;
  for (const p of enabled) {
    const at = ['plugins', p.name, 'path'];
    // Not built yet, and bext knows how: `bext build` (or `bext dev`) makes it; nothing to check until then.
    if (p.build && !existsSync(p.path)) {
      process.stderr.write(`bext: plugin ${p.name}: ${displayPath(p.path)} is not built yet (bext build ${p.name} builds it; bext dev does too)\n`);
      continue;
    }
    const r = await checkPluginModule(p, cfg.stateDir);
    checked += 1;
    for (const what of r.problems) problems.push({ path: at, what });
    for (const what of r.warnings) warnings.push({ path: at, what: `warning: ${what}` });
  }
  for (const line of problemLines(cfg, warnings)) process.stderr.write(`${line}\n`);
  if (problems.length > 0) {
    const failing = new Set(problems.map((p) => p.path[1])).size;
    throw new BextError(
      'config_invalid',
      `${displayPath(cfg.file)}: ${failing} plugin${failing === 1 ? '' : 's'} would not load (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      { details: [...problemLines(cfg, problems), '  (bext plugin inspect NAME shows a module in full; --no-plugins checks the config alone)'] },
    );
  }
  return checked;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${thousands(n / (1024 * 1024))} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${thousands(n / 1024)} KiB`;
  return `${thousands(n)} bytes`;
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}

/** The resolved config for people: every value bext will use, defaults included. */
export function render(cfg: ResolvedConfig, modules: ModulesChecked = null): string {
  const out: string[] = [];
  const row = (indent: number, label: string, value: string): void => {
    out.push(`${' '.repeat(indent)}${label.padEnd(22 - indent)}${value}`);
  };
  out.push(`${displayPath(cfg.file)}: config is valid`);
  out.push('');
  out.push('server');
  row(2, 'listen', `http://${cfg.server.host.includes(':') ? `[${cfg.server.host}]` : cfg.server.host}:${cfg.server.port}${cfg.server.port === 0 ? ' (any free port)' : ''}`);
  row(2, 'root', cfg.server.root ?? 'none (proxy only)');
  row(2, 'upstream', cfg.server.upstream ?? 'none');
  if (cfg.server.tenant_id !== null) row(2, 'tenant_id', cfg.server.tenant_id);
  if (cfg.server.site_id !== null) row(2, 'site_id', cfg.server.site_id);
  out.push('cache');
  if (cfg.cache.enabled) {
    row(2, 'enabled', 'yes');
    row(2, 'ttl', `${thousands(cfg.cache.ttl_secs)} s`);
    row(2, 'max entries', thousands(cfg.cache.max_entries));
    row(2, 'max size', bytes(cfg.cache.max_bytes));
  } else {
    row(2, 'enabled', 'no');
  }
  row(0, 'state', cfg.stateDir);
  out.push('');
  const enabled = cfg.plugins.filter((p) => p.enabled).length;
  out.push(
    cfg.plugins.length === 0
      ? 'plugins: none configured (add a [plugins.NAME] table; see docs/config.md)'
      : `plugins: ${cfg.plugins.length} configured, ${enabled} enabled`,
  );
  if (enabled > 0) {
    const unbuilt = modules === null ? 0 : enabled - modules;
    out.push(
      modules === null
        ? 'modules: not checked (--no-plugins)'
        : unbuilt > 0
          ? `modules: ${modules} checked, each loads (ABI v1 ok); ${unbuilt} not built yet (bext build)`
          : `modules: ${modules} checked, each loads (ABI v1 ok)`,
    );
  }
  for (const p of cfg.plugins) out.push(...renderPlugin(p));
  return `${out.join('\n')}\n`;
}

function renderPlugin(p: PluginConfig): string[] {
  const out: string[] = [''];
  const row = (label: string, value: string): void => {
    out.push(`    ${label.padEnd(18)}${value}`);
  };
  out.push(`  ${p.name}${p.enabled ? '' : ' (disabled)'}`);
  row('path', p.path);
  row('sandbox', p.sandbox);
  row('priority', p.priority === null ? "from the plugin's bext_priority(), else 1000" : String(p.priority));
  out.push('    fuel');
  for (const hook of HOOK_NAMES) out.push(`      ${hook.padEnd(22)}${thousands(p.fuel[hook]).padStart(14)}`);
  const perm = p.permissions;
  row('allowed_urls', perm.allowed_urls.length === 0 ? 'none (no network)' : perm.allowed_urls.join(', '));
  row('fetch limits', `${thousands(perm.max_fetch_per_minute)}/min, timeout ${thousands(perm.fetch_timeout_ms)} ms, max ${bytes(perm.max_response_bytes)}`);
  row('storage quota', `${thousands(perm.storage_quota_kb)} KiB`);
  row('kv_namespaces', list(perm.kv_namespaces));
  row('queue_names', list(perm.queue_names));
  row('memory', `${thousands(p.limits.max_memory_mb)} MiB max`);
  row('timeout', `${thousands(p.limits.timeout_ms)} ms per hook call`);
  row('event queue', `${thousands(p.limits.event_queue_size)} events`);
  const keys = Object.keys(p.config);
  const json = JSON.stringify(p.config);
  if (p.build) {
    row('build', `${describeCommand(p.build.command)}  (in ${displayPath(p.build.cwd) || '.'})`);
    row('build watches', p.build.watch.length === 0 ? 'nothing (bext dev builds only a missing or outdated .wasm)' : p.build.watch.join(', '));
  }
  row('config', keys.length === 0 ? 'none' : json.length > 100 ? `${json.slice(0, 97)}... (full: --json)` : json);
  return out;
}
