/**
 * The one error the WebAssembly layer throws. `kind` is a closed list so callers can word their own
 * load errors (and tests can tell the cases apart) without matching on message text.
 */

export type WasmErrorKind = 'not_wasm' | 'truncated' | 'invalid' | 'unsupported';

export class WasmFormatError extends Error {
  readonly kind: WasmErrorKind;
  constructor(kind: WasmErrorKind, message: string) {
    super(message);
    this.name = 'WasmFormatError';
    this.kind = kind;
  }
}

export function truncated(what: string, at: number): WasmFormatError {
  return new WasmFormatError('truncated', `truncated: the module ends in the middle of ${what} (byte 0x${at.toString(16)}); was the file cut short?`);
}

export function invalid(message: string): WasmFormatError {
  return new WasmFormatError('invalid', `invalid: ${message}`);
}
