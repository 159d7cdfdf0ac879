/**
 * The name section: kept so traps show guest function names, with names added for the
 * functions the instrumenter appends (`bext_out_of_fuel` is how the host recognises the fuel trap
 * in a stack, so a guest function already using that name is renamed).
 */
import { Reader, Writer } from '../wasm/index.js';

export interface NewName {
  index: number;
  name: string;
}

/** A function that takes the names of another: a twin (twins.ts) and its original. */
export interface TwinName {
  index: number;
  of: number;
}

const SUB_FUNCTIONS = 1;
const SUB_LOCALS = 2;

/**
 * Local names of functions that gained a fuel param: locals at or past the param move up one. A
 * twin gets its original's, moved up one more (past its extra param). Returns the new payload, or
 * undefined when the subsection does not parse (it is then dropped).
 */
function shiftLocalNames(payload: Uint8Array, fuelParamOf: (func: number) => number, twins: readonly TwinName[]): Uint8Array | undefined {
  try {
    const r = new Reader(payload);
    const w = new Writer(payload.length + 16);
    const n = r.u32();
    const twinOf = new Map(twins.map((t) => [t.of, t.index]));
    // Twins come after every other function, so their entries go last, in twin order.
    const twinEntries = new Map<number, Uint8Array>();
    const entries = new Writer(payload.length + 16);
    for (let i = 0; i < n; i++) {
      const f = r.u32();
      const from = fuelParamOf(f);
      const twin = twinOf.get(f);
      const tw = twin === undefined ? undefined : new Writer(64);
      entries.u32(f);
      const m = r.u32();
      entries.u32(m);
      tw?.u32(m);
      for (let j = 0; j < m; j++) {
        const idx = r.u32();
        const name = r.name();
        const moved = from >= 0 && idx >= from;
        entries.u32(moved ? idx + 1 : idx);
        entries.name(name);
        tw?.u32(moved ? idx + 2 : idx);
        tw?.name(name);
      }
      if (tw && twin !== undefined) twinEntries.set(twin, tw.result());
    }
    const twinList = twins.filter((t) => twinEntries.has(t.index));
    w.u32(n + twinList.length);
    w.bytes(entries.result());
    for (const t of twinList) {
      w.u32(t.index);
      w.bytes(twinEntries.get(t.index)!);
    }
    return w.result();
  } catch {
    return undefined;
  }
}

/** Returns the new name-section payload (including the "name" prefix). */
export function rewriteNameSection(
  buf: Uint8Array,
  start: number,
  end: number,
  added: readonly NewName[],
  fuelParamOf: (func: number) => number = () => -1,
  twins: readonly TwinName[] = [],
): Uint8Array {
  const subs: { id: number; payload: Uint8Array }[] = [];
  if (end > start) {
    try {
      const r = new Reader(buf, start, end);
      r.name(); // "name"
      while (!r.eof()) {
        const id = r.byte();
        const size = r.u32();
        r.skip(size, 'name subsection');
        subs.push({ id, payload: buf.subarray(r.pos - size, r.pos) });
      }
    } catch {
      // Engines ignore a malformed name section; so do we, and write a fresh one.
      subs.length = 0;
    }
  }

  const reserved = new Set(added.map((a) => a.name));
  const funcNames = new Writer(256);
  const existing = subs.find((s) => s.id === SUB_FUNCTIONS);
  let count = 0;
  const entries = new Writer(256);
  const originals = new Set(twins.map((t) => t.of));
  const originalNames = new Map<number, string>();
  if (existing) {
    try {
      const r = new Reader(existing.payload);
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const idx = r.u32();
        let name = r.name();
        if (reserved.has(name)) name = `${name}$guest`;
        if (originals.has(idx)) originalNames.set(idx, name);
        entries.u32(idx);
        entries.name(name);
        count++;
      }
    } catch {
      count = 0;
      entries.len = 0;
      originalNames.clear();
    }
  }
  for (const a of added) {
    entries.u32(a.index);
    entries.name(a.name);
    count++;
  }
  // Twins have the highest indices of all, so they keep the subsection in index order.
  for (const t of twins) {
    const name = originalNames.get(t.of);
    if (name === undefined) continue;
    entries.u32(t.index);
    entries.name(name);
    count++;
  }
  funcNames.u32(count);
  funcNames.bytes(entries.result());
  const funcPayload = funcNames.result();

  const out = new Writer(256 + (end - start));
  out.name('name');
  let wrote = false;
  const writeFuncs = (): void => {
    out.byte(SUB_FUNCTIONS);
    out.u32(funcPayload.length);
    out.bytes(funcPayload);
    wrote = true;
  };
  for (const s of subs) {
    if (s.id === SUB_FUNCTIONS) {
      if (!wrote) writeFuncs();
      continue;
    }
    if (s.id > SUB_FUNCTIONS && !wrote) writeFuncs();
    const payload = s.id === SUB_LOCALS ? shiftLocalNames(s.payload, fuelParamOf, twins) : s.payload;
    if (!payload) continue;
    out.byte(s.id);
    out.u32(payload.length);
    out.bytes(payload);
  }
  if (!wrote) writeFuncs();
  return out.result();
}
