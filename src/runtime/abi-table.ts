/**
 * The ABI v1 tables (guest exports: hooks, allocators, optional exports) and the check of a module
 * against them and against the host's import table. Everything the loader and `bext plugin
 * inspect` say about imports, hooks and the allocator comes from here, so the rules live in one
 * place (docs/abi.md mirrors these tables). The import table itself is not here: the host
 * capabilities declare their imports and the registry derives the table (src/host/registry.ts).
 */
import { HOOK_NAMES, type HookName } from '../config/types.js';
import { didYouMean } from '../config/problems.js';
import type { HostImportSpec, ImportTable } from './capability.js';
import { formatSignature, sameType, type FuncType, type ParsedModule, type ValType } from '../wasm/index.js';

export const HOST_MODULE = 'bext';
export const WASI_MODULE = 'wasi_snapshot_preview1';

const I = 'i32' as const;

/** Which result form a guest declared for a data-returning import. */
export type ResultForm = 'packed' | 'multi';

export function acceptedTypes(spec: HostImportSpec): FuncType[] {
  const main = { params: spec.params, results: spec.results };
  return spec.returnsData ? [main, { params: spec.params, results: [I, I] }] : [main];
}

/** Hook parameter lists (ABI order). Every hook may return nothing, i32 or i64. */
export const HOOK_PARAMS: Readonly<Record<HookName, ValType[]>> = Object.freeze({
  on_server_start: [I, I],
  on_request_complete: [I, I],
  on_cache_write: [I, I, I, I],
  on_cache_invalidate: [I, I, I],
  on_reload: [],
  on_server_stop: [],
  cleanup: [],
});

export type HookReturn = 'none' | 'i32' | 'i64';

export const ALLOCATORS = ['bext_alloc', 'alloc', 'malloc', 'cabi_realloc'] as const;
export type AllocatorName = (typeof ALLOCATORS)[number];
export const ALLOCATOR_TYPES: Readonly<Record<AllocatorName, FuncType>> = Object.freeze({
  bext_alloc: { params: [I], results: [I] },
  alloc: { params: [I], results: [I] },
  malloc: { params: [I], results: [I] },
  cabi_realloc: { params: [I, I, I, I], results: [I] },
});
export const DEALLOCATORS = ['bext_dealloc', 'free'] as const;
export type DeallocatorName = (typeof DEALLOCATORS)[number];
export const DEALLOCATOR_TYPES: Readonly<Record<DeallocatorName, FuncType>> = Object.freeze({
  bext_dealloc: { params: [I, I], results: [] },
  free: { params: [I], results: [] },
});

const OPTIONAL_EXPORTS: Record<string, FuncType> = {
  bext_name: { params: [], results: ['i64'] },
  bext_priority: { params: [], results: [I] },
  _initialize: { params: [], results: [] },
};

/** What the ABI check learned about a module; sent to the worker so it need not re-derive it. */
export interface AbiSummary {
  hooks: Partial<Record<HookName, HookReturn>>;
  allocator: AllocatorName | null;
  deallocator: DeallocatorName | null;
  /** Data-returning imports the guest declared in multi-value form. */
  multiValueImports: string[];
  hasInitialize: boolean;
  hasStart: boolean;
  hasName: boolean;
  hasPriority: boolean;
  usesWasi: boolean;
}

export interface AbiCheck {
  summary: AbiSummary;
  problems: string[];
  /** Things that work but look wrong (e.g. a `_start` that will never run). */
  warnings: string[];
}

function hookReturn(t: FuncType): HookReturn | null {
  if (t.results.length === 0) return 'none';
  if (t.results.length === 1 && t.results[0] === 'i32') return 'i32';
  if (t.results.length === 1 && t.results[0] === 'i64') return 'i64';
  return null;
}

function allowedHookForms(hook: HookName): string {
  const p = HOOK_PARAMS[hook];
  return ['()', 'i32', 'i64'].map((r) => formatSignature({ params: p, results: r === '()' ? [] : [r as ValType] })).join(' or ');
}

/**
 * Checks imports against `imports` (the host's import table) and exports against ABI v1.
 * Problems are full sentences naming the item.
 */
export function checkAbi(mod: ParsedModule, imports: ImportTable): AbiCheck {
  const byName = new Map(imports.map((s) => [s.name, s]));
  const problems: string[] = [];
  const warnings: string[] = [];
  const multiValueImports: string[] = [];
  let anyReturnsData = false;
  let usesWasi = false;
  const seen = new Set<string>();

  for (const imp of mod.imports) {
    const label = `import "${imp.module}"."${imp.name}"`;
    if (imp.module === WASI_MODULE) {
      usesWasi = true;
      if (imp.kind !== 'function') problems.push(`${label} is a ${imp.kind}; WASI imports must be functions`);
      continue;
    }
    if (imp.module !== HOST_MODULE) {
      problems.push(
        `${label}: module "${imp.module}" is not provided (bext provides "${HOST_MODULE}" and "${WASI_MODULE}" only)` +
          (imp.kind === 'memory' ? '; export the memory instead of importing it' : ''),
      );
      continue;
    }
    if (seen.has(imp.name)) {
      problems.push(`${label} is imported twice`);
      continue;
    }
    seen.add(imp.name);
    const spec = byName.get(imp.name);
    if (!spec) {
      const guess = didYouMean(imp.name, [...byName.keys()]);
      problems.push(
        `${label} is not part of ABI v1 (known: ${imports.map((s) => s.name).join(', ')})` + (guess ? `; did you mean "${guess}"?` : ''),
      );
      continue;
    }
    if (imp.kind !== 'function') {
      problems.push(`${label} is a ${imp.kind}; expected a function ${formatSignature(spec)}`);
      continue;
    }
    const accepted = acceptedTypes(spec);
    const match = accepted.findIndex((t) => sameType(t, imp.type));
    if (match < 0) {
      problems.push(
        `${label} has signature ${formatSignature(imp.type)}; expected ${accepted.map(formatSignature).join(' or ')}`,
      );
      continue;
    }
    if (match === 1) multiValueImports.push(imp.name);
    if (spec.returnsData) anyReturnsData = true;
  }

  const exports = new Map(mod.exports.map((e) => [e.name, e]));
  const fn = (name: string): FuncType | null => {
    const e = exports.get(name);
    return e && e.kind === 'function' && e.type ? e.type : null;
  };

  const memory = exports.get('memory');
  if (!memory) problems.push('no exported memory: export the linear memory as "memory"');
  else if (memory.kind !== 'memory') problems.push(`export "memory" is a ${memory.kind}; expected the linear memory`);

  let allocator: AllocatorName | null = null;
  for (const name of ALLOCATORS) {
    const e = exports.get(name);
    if (!e) continue;
    const t = fn(name);
    if (!t || !sameType(t, ALLOCATOR_TYPES[name])) {
      problems.push(`export "${name}" has signature ${t ? formatSignature(t) : `(a ${e.kind})`}; expected ${formatSignature(ALLOCATOR_TYPES[name])}`);
      continue;
    }
    allocator = name;
    break;
  }
  let deallocator: DeallocatorName | null = null;
  for (const name of DEALLOCATORS) {
    const e = exports.get(name);
    if (!e) continue;
    const t = fn(name);
    if (!t || !sameType(t, DEALLOCATOR_TYPES[name])) {
      problems.push(`export "${name}" has signature ${t ? formatSignature(t) : `(a ${e.kind})`}; expected ${formatSignature(DEALLOCATOR_TYPES[name])}`);
      continue;
    }
    deallocator = name;
    break;
  }

  const hooks: Partial<Record<HookName, HookReturn>> = {};
  let hookNeedsAllocator: HookName | null = null;
  for (const hook of HOOK_NAMES) {
    const e = exports.get(hook);
    if (!e) continue;
    const t = fn(hook);
    const ret = t ? hookReturn(t) : null;
    const paramsOk = t !== null && t.params.length === HOOK_PARAMS[hook].length && t.params.every((p, i) => p === HOOK_PARAMS[hook][i]);
    if (!t || ret === null || !paramsOk) {
      problems.push(`hook "${hook}" has signature ${t ? formatSignature(t) : `(a ${e.kind})`}; expected ${allowedHookForms(hook)}`);
      continue;
    }
    hooks[hook] = ret;
    if (HOOK_PARAMS[hook].length >= 2) hookNeedsAllocator ??= hook;
  }

  for (const [name, want] of Object.entries(OPTIONAL_EXPORTS)) {
    const e = exports.get(name);
    if (!e) continue;
    const t = fn(name);
    if (!t || !sameType(t, want)) {
      problems.push(`export "${name}" has signature ${t ? formatSignature(t) : `(a ${e.kind})`}; expected ${formatSignature(want)}`);
    }
  }

  if (!allocator) {
    const names = ALLOCATORS.map((a) => `${a}${formatSignature(ALLOCATOR_TYPES[a]).replace(/ -> .*$/, '')}`).join(', ');
    if (anyReturnsData) {
      const which = mod.imports.filter((i) => i.module === HOST_MODULE && byName.get(i.name)?.returnsData).map((i) => i.name);
      problems.push(`no allocator export, but the host must write results for ${which.join(', ')}: export one of ${names}`);
    } else if (hookNeedsAllocator) {
      problems.push(`no allocator export, but hook "${hookNeedsAllocator}" takes a string: export one of ${names}`);
    }
  }

  const hasStart = exports.has('_start');
  if (hasStart) warnings.push('exports "_start" (a command module); bext never calls it; build as a reactor (-mexec-model=reactor)');
  if (Object.keys(hooks).length === 0) warnings.push('exports no hooks; the plugin will never be called');

  return {
    summary: {
      hooks,
      allocator,
      deallocator,
      multiValueImports,
      hasInitialize: fn('_initialize') !== null,
      hasStart,
      hasName: fn('bext_name') !== null,
      hasPriority: fn('bext_priority') !== null,
      usesWasi,
    },
    problems,
    warnings,
  };
}
