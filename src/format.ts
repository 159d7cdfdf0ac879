/** Number and duration formatting for human output (commands, the dev server banner, stats tables). */

/** 12345678 → "12,345,678". */
export function thousands(n: number | bigint): string {
  return typeof n === 'bigint' ? n.toLocaleString('en-US') : Math.round(n).toLocaleString('en-US');
}

/** Share of a budget as "12.3%". */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '-';
  return `${((part / whole) * 100).toFixed(1)}%`;
}

/** Microseconds as "850 µs", "12.4 ms" or "3.20 s". */
export function duration(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}
