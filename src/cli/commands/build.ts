/**
 * `bext build [NAME...]`: runs the `[plugins.NAME.build]` commands once, one after another (for
 * CI, or before `bext dev --no-watch`). The compiler's output is shown when a build fails, and
 * the exit code is 1 if any did; naming a plugin without a build table is a usage error (2).
 */
import { statSync } from 'node:fs';
import { displayPath, loadConfig } from '../../config/index.js';
import type { PluginConfig } from '../../config/types.js';
import { BextError, EXIT_OK, EXIT_RUNTIME } from '../../errors.js';
import { thousands } from '../../format.js';
import { describeCommand, startBuild } from '../../server/plugin-build.js';
import { noteConfigFile } from '../config-file.js';

export interface BuildOptions {
  config?: string;
}

function chosen(cfg: { plugins: readonly PluginConfig[] }, names: readonly string[]): PluginConfig[] {
  if (names.length === 0) return cfg.plugins.filter((p) => p.enabled && p.build);
  return names.map((name) => {
    const p = cfg.plugins.find((q) => q.name === name);
    if (!p) {
      throw new BextError('usage', `no plugin named ${name} in the config`, {
        details: [`  configured: ${cfg.plugins.map((q) => q.name).join(', ') || 'none'}`],
      });
    }
    if (!p.build) {
      throw new BextError('usage', `plugin ${name} has no [plugins.${name}.build] table, so bext does not know how to build it`, {
        details: ['  add one with command = [...] (docs/config.md), or create plugins with "bext new plugin"'],
      });
    }
    return p;
  });
}

export async function run(names: string[], opts: BuildOptions): Promise<number> {
  // The .wasm files may not exist yet: building them is the point.
  const cfg = loadConfig(opts.config, { checkFiles: false });
  noteConfigFile(opts.config, cfg);
  const todo = chosen(cfg, names);
  if (todo.length === 0) {
    process.stderr.write(`bext: no enabled plugin in ${displayPath(cfg.file)} has a [plugins.NAME.build] table; nothing to build\n`);
    return EXIT_OK;
  }
  const failed: string[] = [];
  for (const p of todo) {
    process.stderr.write(`building ${p.name}: ${describeCommand(p.build!.command)}  (in ${displayPath(p.build!.cwd) || '.'})\n`);
    const r = await startBuild(p).done;
    if (r.ok) {
      const size = statSync(p.path).size;
      process.stdout.write(`built  ${p.name}  ${displayPath(p.path)} (${thousands(size)} bytes, ${(r.ms / 1000).toFixed(1)} s)\n`);
    } else {
      failed.push(p.name);
      process.stderr.write(`bext: build of ${p.name} failed: ${r.error}\n${r.output ? `${r.output}\n` : ''}`);
    }
  }
  if (failed.length > 0) {
    process.stderr.write(`bext: ${failed.length} of ${todo.length} build${todo.length === 1 ? '' : 's'} failed: ${failed.join(', ')}\n`);
    return EXIT_RUNTIME;
  }
  return EXIT_OK;
}
