/** Parses `--since`: a duration ago (30s, 10m, 2h, 1d, 1w) or an ISO date/time. */
import { BextError } from '../errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Returns epoch milliseconds. Throws a usage error naming the accepted forms. */
export function parseSince(text: string, now = Date.now()): number {
  const s = text.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i.exec(s);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
  // Only ISO-like dates: Date.parse also accepts forms like "1" that would silently mean year 2001.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) {
      if (t > now) throw new BextError('bad_since', `--since ${text} is in the future`);
      return t;
    }
  }
  throw new BextError('bad_since', `--since: cannot read "${text}"`, {
    details: ['  expected a duration ago such as 30s, 10m, 2h, 1d, 1w, or an ISO date such as 2026-01-31 or 2026-01-31T14:00:00Z'],
  });
}
