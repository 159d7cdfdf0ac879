/**
 * Errors bext shows to people. Each carries the exit code the CLI uses and who is to blame,
 * so a broken config (user), a broken plugin (guest) and a bext bug (host) read differently.
 */
export type Blame = 'user' | 'guest' | 'host';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export class BextError extends Error {
  readonly code: string;
  readonly blame: Blame;
  readonly exitCode: number;
  /** Extra lines shown under the first one (e.g. every config problem in a file). */
  readonly details: readonly string[];

  constructor(
    code: string,
    message: string,
    opts: { blame?: Blame; exitCode?: number; details?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BextError';
    this.code = code;
    this.blame = opts.blame ?? 'user';
    this.exitCode = opts.exitCode ?? (this.blame === 'user' ? EXIT_USAGE : EXIT_RUNTIME);
    this.details = opts.details ?? [];
  }
}

export function isBextError(err: unknown): err is BextError {
  return err instanceof BextError;
}
