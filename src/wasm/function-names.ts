/**
 * Function names from a module's name section (subsection 1), by function index. A malformed
 * section gives what could be read before the fault: engines ignore bad names, and so do we.
 */
import { Reader } from './bytes.js';
import type { ParsedModule } from './module-info.js';

export function readFunctionNames(bytes: Uint8Array, module: Pick<ParsedModule, 'sections'>): Record<number, string> {
  const names: Record<number, string> = {};
  const sec = module.sections.find((s) => s.id === 0 && s.name === 'name');
  if (!sec) return names;
  try {
    const r = new Reader(bytes, sec.contentStart, sec.end);
    r.name();
    while (!r.eof()) {
      const id = r.byte();
      const size = r.u32();
      const end = r.pos + size;
      if (id === 1) {
        const sub = new Reader(bytes, r.pos, end);
        for (let n = sub.u32(); n > 0; n--) {
          const index = sub.u32();
          names[index] = sub.name();
        }
      }
      r.skip(size, 'name subsection');
    }
  } catch {
    // Keep what was read.
  }
  return names;
}
