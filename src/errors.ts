/**
 * Errors bext shows to people. Every error has a code from one closed list; the code fixes the
 * exit code the CLI uses and who is to blame, so a broken config (user), a broken plugin (guest)
 * and a bext bug (host) read differently and always exit the same way.
 */
export type Blame = 'user' | 'guest' | 'host';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

interface CodeSpec {
  readonly exitCode: typeof EXIT_RUNTIME | typeof EXIT_USAGE;
  readonly blame: Blame;
}

const usage: CodeSpec = { exitCode: EXIT_USAGE, blame: 'user' };
const failed: CodeSpec = { exitCode: EXIT_RUNTIME, blame: 'user' };

/** Every error code bext raises, with its exit code and blame. */
export const ERROR_CODES = Object.freeze({
  // command line
  usage,
  bad_flags: usage,
  bad_port: usage,
  bad_host: usage,
  bad_since: usage,
  unknown_plugin: usage,
  init_target: usage,
  init_exists: usage,
  // config file
  config_missing: usage,
  config_unreadable: usage,
  config_invalid: usage,
  config_internal: { exitCode: EXIT_RUNTIME, blame: 'host' },
  // plugin modules
  plugin_not_found: usage,
  plugin_not_file: usage,
  plugin_unreadable: usage,
  bad_wasm: usage,
  plugin_init_failed: { exitCode: EXIT_RUNTIME, blame: 'guest' },
  instrument_bug: { exitCode: EXIT_RUNTIME, blame: 'host' },
  // files, stores and sockets
  write_failed: failed,
  not_found: failed,
  stats_store: { exitCode: EXIT_RUNTIME, blame: 'host' },
  state_damaged: { exitCode: EXIT_RUNTIME, blame: 'host' },
  port_in_use: failed,
  port_denied: failed,
  listen_failed: failed,
} satisfies Record<string, CodeSpec>);

export type ErrorCode = keyof typeof ERROR_CODES;

export class BextError extends Error {
  readonly code: ErrorCode;
  readonly blame: Blame;
  readonly exitCode: number;
  /** Extra lines shown under the first one (e.g. every config problem in a file). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, opts: { details?: readonly string[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BextError';
    this.code = code;
    this.blame = ERROR_CODES[code].blame;
    this.exitCode = ERROR_CODES[code].exitCode;
    this.details = opts.details ?? [];
  }
}

export function isBextError(err: unknown): err is BextError {
  return err instanceof BextError;
}
