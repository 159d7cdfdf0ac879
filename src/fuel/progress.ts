/**
 * Progress for slow instrumentation: silent for the first second (most modules finish well
 * before), then a single self-overwriting stderr line, only when stderr is a terminal.
 */
import { performance } from 'node:perf_hooks';

export function ttyProgress(label: string, stream: NodeJS.WriteStream = process.stderr, afterMs = 1000): (fraction: number) => void {
  const start = performance.now();
  let shown = false;
  let lastPct = -1;
  return (fraction: number): void => {
    if (!stream.isTTY) return;
    if (!shown && performance.now() - start < afterMs) return;
    const pct = Math.min(100, Math.floor(fraction * 100));
    if (pct === lastPct) return;
    lastPct = pct;
    shown = true;
    stream.write(`\r${label}: ${pct}%${pct >= 100 ? '\n' : ''}`);
  };
}
