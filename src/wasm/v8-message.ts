/**
 * V8's reason a module did not compile, without the `WebAssembly.Module(): ` prefix. V8 explains a
 * structurally invalid module best, so the loader and the instrumenter both quote it.
 */
export function v8CompileMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return raw.replace(/^WebAssembly\.(Module|compile)\(\): /, '').split('\n')[0] ?? raw;
}
