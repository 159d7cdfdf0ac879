/**
 * The `"bext"` import object of one guest instance, built from its capabilities. This module owns
 * what every import shares: bounds-checked reads of guest memory (a bad range traps the call),
 * UTF-8 decoding, handing results back through the guest allocator in the form the guest
 * declared, and turning a host failure into ABI "internal" instead of an exception in the guest.
 * What each import does is the capability's business (src/host/<capability>/).
 */
import { ABI } from './abi-codes.js';
import type { Capability, CapabilityContext, Data, Delivered, HostFunction, ImportIO } from './capability.js';
import { GuestFault, pack, refusingAfterFault, utf8, utf8Lenient, type Guest } from './guest.js';

export interface ImportObjectContext extends CapabilityContext {
  guest(): Guest;
  /** Imports the guest declared in the multi-value `(i32, i32)` result form. */
  multiValue: ReadonlySet<string>;
  /** The `"bext"` imports the guest declares (for Capability.prepareAtStart). */
  imported?: ReadonlySet<string>;
}

const where = (name: string): string => `bext.${name}`;

function importIO<State>(cap: Capability<State>, ctx: ImportObjectContext): ImportIO<State> {
  let prepared: { state: State } | null = null;
  return {
    ctx,
    state() {
      prepared ??= { state: cap.prepare(ctx) };
      return prepared.state;
    },
    bytes: (name, what, ptr, len) => ctx.guest().read(ptr, len, where(name), what),
    str: (name, what, ptr, len) => utf8(ctx.guest().view(ptr, len, where(name), what)),
    text: (name, what, ptr, len) => utf8Lenient(ctx.guest().view(ptr, len, where(name), what)),
    deliver(name: string, data: Data): Delivered {
      const multi = ctx.multiValue.has(name);
      let code: number;
      if (typeof data === 'number') {
        code = data;
      } else {
        const ptr = ctx.guest().write(data);
        if (ptr !== null) return multi ? [ptr, data.length] : pack(ptr, data.length);
        ctx.log('warn', `${where(name)}: the guest allocator could not provide ${data.length} bytes`, 'host');
        code = ABI.TOO_LARGE;
      }
      return multi ? [code, 0] : BigInt(code);
    },
    guarded<T>(name: string, f: () => T): T | number {
      try {
        return f();
      } catch (err) {
        if (err instanceof GuestFault) throw err;
        ctx.log('error', `${where(name)}: host service failed: ${(err as Error)?.message ?? String(err)}`, 'host');
        return ABI.INTERNAL;
      }
    },
  };
}

/** One function per declared import of every capability; a missing or stray one is a bug. */
export function buildImportObject(capabilities: readonly Capability[], ctx: ImportObjectContext): Record<string, HostFunction> {
  const imports: Record<string, HostFunction> = {};
  for (const cap of capabilities) {
    const io = importIO(cap, ctx);
    const fns = cap.implement(io);
    if (cap.prepareAtStart && cap.imports.some((s) => ctx.imported?.has(s.name))) {
      try {
        io.state();
      } catch {
        // First use prepares again and reports the failure to the guest and the log.
      }
    }
    const declared = new Set(cap.imports.map((s) => s.name));
    for (const spec of cap.imports) {
      const fn = fns[spec.name];
      if (typeof fn !== 'function') throw new Error(`host import ${spec.name} (capability ${cap.name}) has no implementation`);
      imports[spec.name] = refusingAfterFault(fn as (...args: unknown[]) => unknown, spec.params.length) as HostFunction;
    }
    for (const name of Object.keys(fns)) {
      if (!declared.has(name)) throw new Error(`capability ${cap.name} implements ${name}, which it does not declare`);
    }
  }
  return imports;
}

