/**
 * The names an instrumented module carries (docs/fuel.md). They are a public contract: the host and
 * any other engine find the fuel by `bext_fuel`, and the out-of-fuel trap by its frame name.
 */

/** Exported mutable i64 global holding the fuel remaining. */
export const FUEL_GLOBAL = 'bext_fuel';

/** The function the fuel check calls to trap; innermost frame of every out-of-fuel trap. */
export const OUT_OF_FUEL_NAME = 'bext_out_of_fuel';

/** The instrumenter's start function, standing in for the guest's (which it calls). */
export const START_WRAPPER_NAME = 'bext_start';

/**
 * Profiling builds only (`instrument(…, { profile: true })`, see docs/fuel.md): the exported funcref
 * table whose slot 0 receives `enter(function i32, fuel f64)` and slot 1 `exit(function, fuel)`,
 * and the exported mutable i32 global that turns the calls on (non-zero) and off.
 */
export const PROFILE_TABLE = 'bext_profile_hooks';
export const PROFILE_FLAG = 'bext_profile_on';
