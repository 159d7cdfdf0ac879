/**
 * Control-flow events: what the body walk records for the analysis of threaded calls
 * (BodyRewriter.needsSaveAfterCalls), and what the first pass (first-pass.ts) records for the same
 * analysis without the rest of the walk. A const enum: its members are number literals in the
 * compiled code, so the switches over them are jump tables.
 */
export const enum V {
  BLOCK = 0,
  LOOP = 1, // arg: loop ordinal
  IF = 2,
  ELSE = 3,
  END = 4, // arg: loop ordinal when it closes a loop, else -1
  BR = 5, // arg: depth
  BR_IF = 6, // arg: depth
  BR_TABLE = 7, // arg: index into evTable (count, then the depths)
  TRAP = 8, // an operator that can trap
  SAVE = 9, // the global is written (or the function returns)
  RETURNED = 10, // a threaded call returned (arg: its after-call segment)
  CATCH = 11, // a `catch`/`catch_all`: what precedes it falls through to its try's end
}
