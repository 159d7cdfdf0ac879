/**
 * `emit_metric`: a sample from the guest, posted to the main thread, where prometheus.ts turns it
 * into a counter or histogram. Bad samples are dropped with a warning; the guest gets no code.
 */
import type { Capability } from '../../runtime/capability.js';

/** Tags as a JSON object (values stringified) or `[[k, v], ...]`; null when neither. */
export function parseTags(text: string): Record<string, string> | null {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const scalar = (x: unknown): x is string | number | boolean => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const pair of v) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !scalar(pair[1])) return null;
      out[pair[0]] = String(pair[1]);
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!scalar(x)) return null;
      out[k] = String(x);
    }
    return out;
  }
  return null;
}

const I = 'i32' as const;

export const metrics: Capability<null> = {
  name: 'metrics',
  imports: [{ name: 'emit_metric', params: [I, I, 'f64', I, I], results: [], returnsData: false, ranges: ['name', 'tags'] }],
  codes: [],
  prepare: () => null,
  implement: (io) => ({
    emit_metric(np: number, nl: number, value: number, tp: number, tl: number): void {
      const name = io.str('emit_metric', 'name', np, nl);
      const tagsText = io.str('emit_metric', 'tags', tp, tl);
      if (name === null || name === '') {
        io.ctx.log('warn', 'bext.emit_metric: metric name is empty or not UTF-8; sample dropped', 'host');
        return;
      }
      if (tagsText === null) {
        io.ctx.log('warn', `bext.emit_metric: tags for "${name}" are not valid UTF-8; sample dropped`, 'host');
        return;
      }
      const tags = parseTags(tagsText);
      if (tags === null) {
        io.ctx.log('warn', `bext.emit_metric: tags for "${name}" are not a JSON object or [[key, value], ...]; sample dropped`, 'host');
        return;
      }
      if (!Number.isFinite(value)) {
        io.ctx.log('warn', `bext.emit_metric: value of "${name}" is not finite; sample dropped`, 'host');
        return;
      }
      io.ctx.metric(name, value, tags);
    },
  }),
};
