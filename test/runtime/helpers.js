// Shared pieces for runtime tests: WAT modules with a small allocator, and plugin configs.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { wat } from '../helpers/wasm.js';
import { defaultPluginConfig, loadPlugin } from '../../dist/plugins/index.js';
import { tempDir as tempDirRemovedAtExit } from '../helpers/cleanup.js';

export function tempDir(prefix = 'bext-rt-') {
  return tempDirRemovedAtExit(prefix);
}

/**
 * A bump allocator that counts live blocks and rewinds when all are freed, so a host that frees
 * what it allocates keeps memory flat, and one that leaks makes it grow. Exports `live_allocs`.
 * Memory grows page by page on demand; alloc returns 0 when memory.grow fails.
 */
export const ALLOCATOR = `
  (global $hp (mut i32) (i32.const 8192))
  (global $live (export "live_allocs") (mut i32) (i32.const 0))
  (func $alloc (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $hp))
    (global.set $hp (i32.add (global.get $hp) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (block $ok (loop $more
      (br_if $ok (i32.le_u (global.get $hp) (i32.mul (memory.size) (i32.const 65536))))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
      (br $more)))
    (global.set $live (i32.add (global.get $live) (i32.const 1)))
    (local.get $p))
  (func $dealloc (export "bext_dealloc") (param i32 i32)
    (global.set $live (i32.sub (global.get $live) (i32.const 1)))
    (if (i32.eqz (global.get $live)) (then (global.set $hp (i32.const 8192)))))
`;

/** A module with memory, the allocator, `imports` first and `body` after. */
export function mod(body, { imports = '', memory = '(memory (export "memory") 1)', allocator = true } = {}) {
  return `(module ${imports} ${memory} ${allocator ? ALLOCATOR : ''} ${body})`;
}

/** Writes the module to a temp dir and returns a PluginConfig for it (with overrides). */
export function pluginFor(watText, overrides = {}) {
  const dir = tempDir();
  const file = path.join(dir, `${overrides.name ?? 'p'}.wasm`);
  writeFileSync(file, wat(watText));
  const base = defaultPluginConfig(file);
  return {
    ...base,
    ...overrides,
    fuel: { ...base.fuel, ...(overrides.fuel ?? {}) },
    limits: { ...base.limits, ...(overrides.limits ?? {}) },
    permissions: { ...base.permissions, ...(overrides.permissions ?? {}) },
    stateDir: path.join(dir, '.bext'),
  };
}

/** Loads a plugin from WAT; collects logs, metrics and call results. */
export async function load(watText, overrides = {}, extra = {}) {
  const plugin = pluginFor(watText, overrides);
  const logs = [];
  const metrics = [];
  const calls = [];
  const { stateDir, ...pc } = plugin;
  const handle = await loadPlugin({
    plugin: pc,
    stateDir,
    logLevel: 'trace',
    logOutcomes: false,
    onLog: (e) => logs.push(e),
    onMetric: (m) => metrics.push(m),
    onCall: (r) => calls.push(r),
    ...extra,
  });
  return { handle, logs, metrics, calls, plugin: pc, stateDir };
}

/** WAT data segment text for a string at an address. */
export function data(addr, text) {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(16).padStart(2, '0')}`;
  }
  return `(data (i32.const ${addr}) "${out}")`;
}

export const LOG_IMPORT = '(import "bext" "log" (func $log (param i32 i32 i32 i32)))';
