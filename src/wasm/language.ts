/**
 * A best guess at the source language of a module, for the dashboard. The `producers` custom
 * section (tool-conventions/ProducersSection.md) names it when the toolchain wrote one (rustc and
 * clang do); otherwise imports and function names give hints. A guess, never a promise: a
 * stripped module or hand-written WAT says nothing, and is reported as unknown.
 */
import { Reader } from './bytes.js';
import { parseModule, SECTION } from './module-info.js';

export interface LanguageGuess {
  /** "Rust", "C", "C++", "AssemblyScript", "Go", "Zig" or "unknown". */
  language: string;
  /** What the guess rests on, e.g. "producers: language Rust" or "imports env.abort". */
  evidence: string;
}

/** Field name → [(value name, version)] of a producers section. */
function readProducers(bytes: Uint8Array, start: number, end: number): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  const r = new Reader(bytes, start, end);
  r.name(); // "producers"
  const fields = r.u32();
  for (let i = 0; i < fields; i++) {
    const field = r.name();
    const n = r.u32();
    const values: [string, string][] = [];
    for (let j = 0; j < n; j++) values.push([r.name(), r.name()]);
    out.set(field, values);
  }
  return out;
}

const BY_TOOL: [RegExp, string][] = [
  [/^rustc$/i, 'Rust'],
  [/^clang$/i, 'C'],
  [/^tinygo$|^go$/i, 'Go'],
  [/^zig$/i, 'Zig'],
  [/^assemblyscript$|^asc$/i, 'AssemblyScript'],
];

function languageName(raw: string): string {
  if (/^rust/i.test(raw)) return 'Rust';
  if (/^c\+\+|^cpp/i.test(raw)) return 'C++';
  if (/^c\d*$/i.test(raw)) return 'C';
  return raw;
}

export function guessLanguage(bytes: Uint8Array): LanguageGuess {
  let parsed;
  try {
    parsed = parseModule(bytes);
  } catch {
    return { language: 'unknown', evidence: 'not a valid module' };
  }
  const producers = parsed.sections.find((s) => s.id === SECTION.custom && s.name === 'producers');
  if (producers) {
    try {
      const p = readProducers(bytes, producers.contentStart, producers.end);
      const lang = p.get('language')?.[0];
      if (lang) return { language: languageName(lang[0]), evidence: `producers: language ${lang[0]}` };
      for (const [tool] of p.get('processed-by') ?? []) {
        const hit = BY_TOOL.find(([re]) => re.test(tool));
        if (hit) return { language: hit[1], evidence: `producers: processed-by ${tool}` };
      }
    } catch {
      // A malformed custom section is not an error of the module; fall through to the hints.
    }
  }
  const imports = new Set(parsed.imports.map((i) => `${i.module}.${i.name}`));
  if (imports.has('env.abort')) return { language: 'AssemblyScript', evidence: 'imports env.abort' };
  if ([...imports].some((i) => i.startsWith('gojs.') || i.startsWith('go.'))) return { language: 'Go', evidence: 'imports from the Go runtime' };
  const exports = parsed.exports.map((e) => e.name);
  if (exports.includes('__heap_base') || exports.includes('__data_end')) return { language: 'C', evidence: 'wasm-ld exports __heap_base (C, or another LLVM language)' };
  return { language: 'unknown', evidence: 'no producers section and no telling imports (hand-written WAT, or a stripped module)' };
}
