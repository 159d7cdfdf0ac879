/**
 * Fuel cost rules (wasmtime's, see docs/fuel.md). Kept in one place so the rules can be read
 * without reading the rewriter.
 */

/** Every operator costs this much unless listed as free below. */
export const OP_COST = 1;

/**
 * Opcodes that cost nothing: nop, drop, block, loop, unreachable, return, else, end (wasmtime's),
 * and the legacy exception-handling boundaries catch, catch_all and delegate (bext's rule; wasmtime
 * does not run legacy exception handling). Like `else` and `end` they close part of a block: on the
 * normal path they are where the `try` body ends. They match wasmtime's metering of the exnref form
 * these modules translate to, where `try_table` costs 1 and its catch clauses only name labels.
 * So `try`, `throw` and `rethrow` cost 1 (`throw` is wasmtime's, `rethrow` its `throw_ref`), and so
 * do `return_call` and `return_call_indirect`, as in wasmtime.
 */
export const FREE_OPCODES: ReadonlySet<number> = new Set([0x01, 0x1a, 0x02, 0x03, 0x00, 0x0f, 0x05, 0x0b, 0x07, 0x19, 0x18]);

/** A function costs this much on entry (charged before the entry check). */
export const FUNCTION_ENTRY_COST = 1;

/**
 * wasmtime runs a module's start function through a synthesized caller whose entry and `call`
 * each cost 1, so an empty start function costs 3 in total.
 */
export const START_CALL_OVERHEAD = 2;

/**
 * Bulk operations with a constant length whose variable cost is at most this are charged up
 * front with no check (wasmtime's SMALL_BULK_OP_COST fast path). Larger or dynamic lengths are
 * charged after the operation runs, followed by a fuel check.
 */
export const SMALL_BULK_OP_COST = 128;

/** A top-level call from the host into an export has no fixed overhead in wasmtime. */
export const CALL_OVERHEAD = 0;
