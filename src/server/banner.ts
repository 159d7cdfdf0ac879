/** The one block `bext dev` prints to stdout when it is ready. */
import path from 'node:path';
import type { HookName, ResolvedConfig } from '../config/types.js';
import type { PluginInfo } from '../runtime/types.js';
import { thousands } from '../format.js';

export interface BannerInput {
  version: string;
  url: string;
  startMs: number;
  config: ResolvedConfig;
  plugins: PluginInfo[];
  warnings: string[];
  watch: boolean;
  colour: boolean;
}

function paint(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), green: wrap('32'), red: wrap('31'), yellow: wrap('33'), cyan: wrap('36') };
}

function rel(file: string): string {
  const r = path.relative(process.cwd(), file);
  return r === '' ? '.' : r.startsWith('..') ? file : `./${r}`;
}

function shortFuel(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${thousands(n / 1_000_000)}M`;
  return thousands(n);
}

export function formatBanner(b: BannerInput): string {
  const c = paint(b.colour);
  const out: string[] = [];
  out.push('');
  out.push(`  ${c.bold('bext dev')} ${c.dim(`v${b.version}`)}  ready in ${b.startMs} ms`);
  out.push('');
  out.push(`  ➜  Local:   ${c.cyan(b.url)}`);
  if (b.config.server.root) out.push(`  ➜  Root:    ${rel(b.config.server.root)}`);
  if (b.config.server.upstream) out.push(`  ➜  Proxy:   ${b.config.server.upstream}`);
  const cache = b.config.cache;
  out.push(
    `  ➜  Cache:   ${cache.enabled ? `on, ttl ${cache.ttl_secs}s, up to ${thousands(cache.max_entries)} entries / ${Math.round(cache.max_bytes / 1048576)} MB` : 'off'}`,
  );
  out.push(`  ➜  Dashboard: ${c.cyan(`${b.url}__bext/`)}  ${c.dim('(loopback only; JSON API at the same routes)')}`);
  const live = b.watch && b.config.server.live_reload && b.config.server.root ? '; pages live-reload' : '';
  out.push(`  ➜  Watch:   ${b.watch ? `on (config, plugins, site files${live})` : 'off'}`);
  out.push('');
  const loaded = b.plugins.filter((p) => p.state === 'loaded').length;
  const failed = b.plugins.filter((p) => p.state === 'failed').length;
  const disabled = b.plugins.filter((p) => p.state === 'disabled').length;
  if (b.plugins.length === 0) {
    out.push(`  Plugins: none configured`);
  } else {
    const counts = [`${loaded} loaded`, failed ? c.red(`${failed} failed`) : '', disabled ? `${disabled} disabled` : ''].filter(Boolean);
    out.push(`  Plugins (${counts.join(', ')})`);
    const width = Math.max(...b.plugins.map((p) => p.name.length));
    for (const p of b.plugins) {
      const name = p.name.padEnd(width);
      if (p.state === 'loaded') {
        const hooks = p.hooks.length
          ? p.hooks.map((h: HookName) => `${h} ${c.dim(shortFuel(p.budgets[h]))}`).join(', ')
          : c.dim('no hooks exported');
        out.push(`    ${c.green('✓')} ${name}  ${c.dim(`priority ${p.priority}`)}  ${hooks}`);
      } else if (p.state === 'disabled') {
        out.push(`    ${c.dim('-')} ${name}  ${c.dim('disabled')}`);
      } else {
        out.push(`    ${c.red('✗')} ${name}  ${c.red((p.error ?? 'failed').split('\n')[0]!)}`);
      }
    }
  }
  if (b.warnings.length > 0) {
    out.push('');
    out.push(`  ${c.yellow('Warnings')}`);
    for (const w of b.warnings) out.push(`    ${c.yellow('!')} ${w.split('\n')[0]}`);
  }
  out.push('');
  out.push(`  ${c.dim('press Ctrl-C to stop')}`);
  out.push('');
  return out.join('\n');
}
