/**
 * Control-flow events: what the body walk records for the analysis of threaded calls
 * (BodyRewriter.needsSaveAfterCalls), and what the first pass (first-pass.ts) records for the same
 * analysis without the rest of the walk.
 */
export const V_BLOCK = 0;
export const V_LOOP = 1; // arg: loop ordinal
export const V_IF = 2;
export const V_ELSE = 3;
export const V_END = 4; // arg: loop ordinal when it closes a loop, else -1
export const V_BR = 5; // arg: depth
export const V_BR_IF = 6; // arg: depth
export const V_BR_TABLE = 7; // arg: index into evTable (count, then the depths)
export const V_TRAP = 8; // an operator that can trap
export const V_SAVE = 9; // the global is written (or the function returns)
export const V_RETURNED = 10; // a threaded call returned (arg: its after-call segment)
export const V_CATCH = 11; // a `catch`/`catch_all`: what precedes it falls through to its try's end
