/**
 * Collects config problems while validating, so one run reports every mistake in the file,
 * and formats them as `file:line:col  key.path: what is wrong, expected form (did you mean "x"?)`.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { Locations, PathSegment, Pos } from './locate.js';

export interface Problem {
  path: readonly PathSegment[];
  pos: Pos;
  /** What is wrong, e.g. `unknown key` or `70000 is out of range`. */
  what: string;
  /** The accepted form, e.g. `an integer from 0 to 65535`. */
  expected?: string;
  /** A suggested replacement key. */
  suggestion?: string;
  /** Anything else worth saying, shown after the rest in parentheses. */
  hint?: string;
}

/** Which part of a key/value line a problem points at. */
export type Anchor = 'key' | 'value';

export class Problems {
  readonly list: Problem[] = [];

  constructor(private readonly locs: Locations) {}

  /** Adds a problem located at the key or the value of `path` (or its nearest written ancestor). */
  add(path: readonly PathSegment[], anchor: Anchor, p: Omit<Problem, 'path' | 'pos'>): void {
    this.list.push({ path, pos: this.posOf(path, anchor), ...p });
  }

  posOf(path: readonly PathSegment[], anchor: Anchor): Pos {
    const own = this.locs.get(path);
    if (own) return (anchor === 'value' ? own.value : undefined) ?? own.key;
    return this.locs.nearest(path)?.key ?? { line: 1, col: 1 };
  }

  /** The source text of a scalar value, when the locator saw one. */
  raw(path: readonly PathSegment[]): string | undefined {
    return this.locs.get(path)?.raw;
  }

  get count(): number {
    return this.list.length;
  }

  /** In file order, so the report reads top to bottom like the file. */
  sorted(): Problem[] {
    return [...this.list].sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  }
}

/** `plugins.my-analytics.fuel.on_request_complet`; odd names are quoted, array entries get `[n]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? s : `.${s}`;
    }
  }
  return out;
}

export function formatProblem(p: Problem, file: string): string {
  let line = `  ${file}:${p.pos.line}:${p.pos.col}  ${formatPath(p.path)}: ${p.what}`;
  if (p.expected) line += `, expected ${p.expected}`;
  if (p.suggestion) line += ` (did you mean "${p.suggestion}"?)`;
  if (p.hint) line += ` (${p.hint})`;
  return line;
}

/**
 * The allowed key closest to a misspelt one, if it is close enough to be a likely typo.
 * Case differences alone always count as close.
 */
export function didYouMean(key: string, allowed: readonly string[]): string | undefined {
  if (allowed.length === 0) return undefined;
  const lower = key.toLowerCase();
  const exactCase = allowed.find((a) => a.toLowerCase() === lower);
  if (exactCase) return exactCase;
  const best = closest(lower, allowed as string[]);
  const d = distance(lower, best.toLowerCase());
  const limit = key.length <= 3 ? 1 : Math.max(2, Math.floor(key.length / 3));
  return d <= limit ? best : undefined;
}

/** `a, b, c or d` for "expected one of" lists. */
export function oneOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
