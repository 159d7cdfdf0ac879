/** Number and duration formatting for human output (commands, the dev server banner, stats tables). */

/**
 * 12345678 → "12,345,678": the same text as `toLocaleString('en-US')` (a rounded number; "-0",
 * "NaN", "∞" and exponent-sized values included), without it: the first locale call initialises
 * ICU, ~20 ms of every command's start-up.
 */
export function thousands(n: number | bigint): string {
  if (typeof n === 'bigint') return n < 0n ? `-${group((-n).toString())}` : group(n.toString());
  const r = Math.round(n);
  if (Number.isNaN(r)) return 'NaN';
  const sign = r < 0 || Object.is(r, -0) ? '-' : '';
  const abs = Math.abs(r);
  return sign + (abs === Infinity ? '∞' : group(integerDigits(abs)));
}

/** A non-negative integer's decimal digits; from 1e21 up String() writes "1.5e+300", spelt out here. */
function integerDigits(n: number): string {
  const s = String(n);
  const e = s.indexOf('e+');
  if (e < 0) return s;
  const [int = '', frac = ''] = s.slice(0, e).split('.');
  return int + frac + '0'.repeat(Number(s.slice(e + 2)) - frac.length);
}

/** "1234567" → "1,234,567". */
function group(digits: string): string {
  const head = digits.length % 3 || 3;
  let out = digits.slice(0, head);
  for (let i = head; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return out;
}
/** Share of a budget as "12.3%". */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '-';
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** Microseconds to three significant figures or so: "850 µs", "12.4 ms", "3.20 s", "14.6 s", "146 s". */
export function duration(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  const s = us / 1_000_000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  return `${Math.round(s)} s`;
}
