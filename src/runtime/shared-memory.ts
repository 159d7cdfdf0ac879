/**
 * Marks a metered module's memories `shared` before it is compiled for a worker, so that
 * `memory.grow` is cheap.
 *
 * Why: when an unshared wasm memory grows, V8 hands out a new ArrayBuffer and counts its whole
 * length as new external memory. The old buffer's share is only released by a later GC. Past
 * about 64 MiB, every `memory.grow` therefore starts a full mark-compact. Growing to 1 GiB one
 * page at a time took 14-40 s, almost all of it in GC, even though a maximum was declared and V8
 * had reserved the address space. V8 does not count shared backing stores as per-isolate external
 * memory, so a shared memory grows in place with no GC: 1 GiB in one-page steps takes about 0.1 s
 * (bench/memory-grow.bench.js).
 *
 * The guest cannot tell the difference. The instrumenter refuses atomics (opcode 0xfe), so the
 * module has no instruction that behaves differently on a shared memory. Loads, stores,
 * `memory.size`, `memory.grow` (including -1 past the cap) and out-of-bounds traps are the same.
 * On the host side `memory.buffer` becomes a SharedArrayBuffer. Every read the host keeps or
 * posts to another thread is a copy (Guest.read), and TextDecoder and node:wasi accept shared
 * views.
 *
 * The patch changes only flag bytes (limits 0x01 "min and max" → 0x03 "shared, min and max"), so
 * every offset, and with it the fuel offset map used for trap frames, stays valid. It runs on the
 * loaded copy only. `bext plugin instrument` output and the on-disk cache stay unshared.
 */
import { Reader, SECTION } from '../wasm/index.js';

const LIMITS_MIN_MAX = 0x01;
const LIMITS_SHARED_MIN_MAX = 0x03;

/**
 * A copy of `bytes` with every defined memory that declares a maximum marked shared. A shared
 * memory must declare a maximum; the memory cap (`limits.max_memory_mb`) gives every memory one.
 * Memories without a maximum, or with other flags (memory64), are left as they are.
 */
export function shareMemories(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const r = new Reader(out, 8);
  while (!r.eof()) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (id === SECTION.memory) {
      const count = r.u32();
      for (let i = 0; i < count; i++) {
        const flagsAt = r.pos;
        const flags = r.byte();
        const leb = flags & 0x04 ? 10 : 5;
        r.skipLeb(leb);
        if (flags & 0x01) r.skipLeb(leb);
        if (flags === LIMITS_MIN_MAX) out[flagsAt] = LIMITS_SHARED_MIN_MAX;
      }
      // At most one memory section.
      return out;
    }
    r.pos = end;
  }
  return out;
}
