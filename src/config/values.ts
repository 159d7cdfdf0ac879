/**
 * Readers for single config values. Each checks one value, records a problem when it is
 * wrong, and returns the checked value or undefined (so validation can go on and find more).
 */
import type { PathSegment } from './locate.js';
import { didYouMean, oneOf, type Problems } from './problems.js';

export type Table = Record<string, unknown>;

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** TOML value kinds in words, for "wrong type (...)" messages. */
export function describe(v: unknown, raw?: string): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (typeof v === 'bigint') return `integer ${raw ?? String(v)}`;
  if (typeof v === 'number') {
    const text = raw ?? String(v);
    return isFloatText(text) || !Number.isInteger(v) ? `float ${text}` : `integer ${text}`;
  }
  if (v instanceof Date) return `date ${raw ?? v.toISOString()}`;
  if (Array.isArray(v)) return 'array';
  if (isTable(v)) return 'table';
  return String(v);
}

/** TOML writes floats with a `.`, an exponent, or as inf/nan; hex/octal/binary are integers. */
function isFloatText(raw: string): boolean {
  if (/^[+-]?0[xob]/i.test(raw)) return false;
  return /[.eE]|inf|nan/.test(raw);
}

function wrongType(ps: Problems, path: readonly PathSegment[], v: unknown, expected: string): undefined {
  ps.add(path, 'value', { what: `wrong type (${describe(v, ps.raw(path))})`, expected });
  return undefined;
}

/** Reports every key of `table` that is not in `allowed`, with a did-you-mean or a better home. */
export function checkKeys(
  ps: Problems,
  path: readonly PathSegment[],
  table: Table,
  allowed: readonly string[],
  opts: { noun?: string; belongsIn?: Readonly<Record<string, string>> } = {},
): void {
  for (const key of Object.keys(table)) {
    if (allowed.includes(key)) continue;
    const home = opts.belongsIn?.[key];
    if (home) {
      ps.add([...path, key], 'key', { what: 'not allowed here', hint: `it belongs in [${home}]` });
    } else {
      ps.add([...path, key], 'key', {
        what: `unknown ${opts.noun ?? 'key'}`,
        expected: `one of ${oneOf(allowed)}`,
        suggestion: didYouMean(key, allowed),
      });
    }
  }
}

export interface IntRule {
  min: number;
  max: number;
  /** The accepted form in words, e.g. `an integer from 0 to 65535`. */
  form: string;
}

export function readInt(ps: Problems, path: readonly PathSegment[], v: unknown, rule: IntRule): number | undefined {
  const raw = ps.raw(path);
  let n: number;
  if (typeof v === 'bigint') {
    // Integers beyond 2^53 - 1 come back as BigInt; 2^53 itself is still exact as a number.
    if (v < BigInt(rule.min) || v > BigInt(rule.max)) {
      ps.add(path, 'value', { what: `${raw ?? String(v)} is out of range`, expected: rule.form });
      return undefined;
    }
    n = Number(v);
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v) || !Number.isInteger(v) || (raw !== undefined && isFloatText(raw))) {
      ps.add(path, 'value', { what: `${raw ?? String(v)} is not an integer`, expected: rule.form });
      return undefined;
    }
    n = v;
  } else {
    return wrongType(ps, path, v, rule.form);
  }
  if (n < rule.min || n > rule.max) {
    ps.add(path, 'value', { what: `${raw ?? String(n)} is out of range`, expected: rule.form });
    return undefined;
  }
  return n;
}

export function readBool(ps: Problems, path: readonly PathSegment[], v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  return wrongType(ps, path, v, 'true or false');
}

export function readString(
  ps: Problems,
  path: readonly PathSegment[],
  v: unknown,
  form: string,
  opts: { nonEmpty?: boolean } = {},
): string | undefined {
  if (typeof v !== 'string') return wrongType(ps, path, v, form);
  if (opts.nonEmpty && v.trim() === '') {
    ps.add(path, 'value', { what: 'empty string', expected: form });
    return undefined;
  }
  return v;
}

/** An http(s) URL, e.g. the upstream of the reverse proxy. */
export function readHttpUrl(ps: Problems, path: readonly PathSegment[], v: unknown): string | undefined {
  const form = 'an http:// or https:// URL, e.g. "http://127.0.0.1:5173"';
  const s = readString(ps, path, v, form);
  if (s === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    ps.add(path, 'value', { what: `${JSON.stringify(s)} is not a URL`, expected: form });
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ps.add(path, 'value', { what: `${JSON.stringify(s)} is not an http(s) URL`, expected: form });
    return undefined;
  }
  return s;
}

/** An array whose every element passes `each`; a bad element is reported at its own position. */
export function readArray<T>(
  ps: Problems,
  path: readonly PathSegment[],
  v: unknown,
  form: string,
  each: (elemPath: PathSegment[], elem: unknown) => T | undefined,
): T[] | undefined {
  if (!Array.isArray(v)) return wrongType(ps, path, v, form);
  const out: T[] = [];
  let ok = true;
  v.forEach((elem, i) => {
    const r = each([...path, i], elem);
    if (r === undefined) ok = false;
    else out.push(r);
  });
  return ok ? out : undefined;
}

export function readTable(ps: Problems, path: readonly PathSegment[], v: unknown, form: string): Table | undefined {
  if (isTable(v)) return v;
  return wrongType(ps, path, v, form);
}

/**
 * Free-form TOML (a plugin's `[config]`) as plain JSON values: dates become ISO strings
 * (local dates and times keep their TOML form), and values JSON cannot carry are problems.
 */
export function toJsonValue(ps: Problems, path: readonly PathSegment[], v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    ps.add(path, 'value', { what: `${ps.raw(path) ?? String(v)} cannot be represented in JSON`, expected: 'a finite number' });
    return undefined;
  }
  if (typeof v === 'bigint') {
    ps.add(path, 'value', {
      what: `${ps.raw(path) ?? String(v)} is too large for a JSON number`,
      expected: 'an integer within ±9007199254740991',
      hint: 'write it as a string',
    });
    return undefined;
  }
  // @iarna/toml marks local dates/times; their JSON form is exactly what TOML wrote.
  if (v instanceof Date) return v.toJSON();
  if (Array.isArray(v)) return v.map((e, i) => toJsonValue(ps, [...path, i], e));
  if (isTable(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) {
      // defineProperty, so a key named __proto__ stays an ordinary key.
      Object.defineProperty(out, k, { value: toJsonValue(ps, [...path, k], e), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return undefined;
}
