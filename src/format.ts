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

/** Microseconds to three significant figures or so: "850 µs", "12.4 ms", "3.20 s", "14.6 s", "146 s". */
export function duration(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  const s = us / 1_000_000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  return `${Math.round(s)} s`;
}
