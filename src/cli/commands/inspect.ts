/**
 * `bext plugin inspect FILE.wasm|NAME [--json]`: what a module imports and exports, which hooks it
 * implements, and every ABI problem that would stop it loading. A NAME is a configured plugin
 * (as for `plugin run`). Exit 2 when there are problems.
 */
import { EXIT_OK, EXIT_USAGE } from '../../errors.js';
import { thousands } from '../../format.js';
import { inspectPluginFile } from '../../plugins/engine.js';
import type { WasmReport } from '../../runtime/index.js';
import { resolveTarget, shown } from './hook-call.js';

export interface InspectOptions {
  config?: string;
  json?: boolean;
}

function pages(n: number): string {
  return `${thousands(n)} page${n === 1 ? '' : 's'} (${((n * 65536) / (1024 * 1024)).toFixed(1)} MiB)`;
}

function pad(rows: [string, string][], indent = '  '): string {
  const w = Math.max(0, ...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `${indent}${a.padEnd(w)}  ${b}`.trimEnd()).join('\n');
}

export function renderReport(file: string, r: WasmReport): string {
  const out: string[] = [];
  out.push(`file        ${file} (${thousands(r.size)} bytes)`);
  if (r.readable) {
    out.push(`memory      ${r.memory ? `min ${pages(r.memory.minPages)}, max ${r.memory.maxPages === null ? 'none (capped by limits.max_memory_mb)' : pages(r.memory.maxPages)}` : 'none defined'}`);
    out.push(`hooks       ${r.hooks.length ? r.hooks.map((h) => `${h.hook}${h.returns === 'none' ? '' : ` -> ${h.returns}`}`).join(', ') : 'none'}`);
    out.push(`allocator   ${r.allocator ?? 'none'}${r.deallocator ? `, deallocator ${r.deallocator}` : ''}`);
    if (r.multiValueImports.length) out.push(`multi-value ${r.multiValueImports.join(', ')} (results as (i32, i32))`);
    out.push('', `imports (${r.imports.length})`);
    if (r.imports.length) out.push(pad(r.imports.map((i) => [`${i.module}.${i.name}`, i.signature ?? i.kind])));
    out.push('', `exports (${r.exports.length})`);
    if (r.exports.length) out.push(pad(r.exports.map((e) => [e.name, e.signature ?? e.kind])));
  }
  out.push('');
  if (r.problems.length === 0) out.push('ABI v1: ok');
  else {
    out.push(`problems (${r.problems.length})`);
    for (const p of r.problems) out.push(`  ✗ ${p}`);
  }
  if (r.warnings.length) {
    out.push(`warnings (${r.warnings.length})`);
    for (const w of r.warnings) out.push(`  ! ${w}`);
  }
  return out.join('\n') + '\n';
}

export async function run(target: string, opts: InspectOptions): Promise<number> {
  const { plugin, configFile } = await resolveTarget(target, opts.config);
  const file = configFile === null ? target : shown(plugin.path);
  const report = await inspectPluginFile(plugin.path);
  report.file = file;
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderReport(file, report));
  return report.problems.length > 0 ? EXIT_USAGE : EXIT_OK;
}
