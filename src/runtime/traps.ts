/**
 * Turning what a guest call threw into a trap kind and a readable guest stack. V8 reports wasm
 * traps as WebAssembly.RuntimeError with fixed messages and stack frames like
 * `at parse_event (wasm://wasm/1a2b3c:wasm-function[7]:0x1f4)`; names come from the name section.
 */
import { GuestFault } from './guest.js';
import type { RawFrame } from './frames/symbolize.js';

export interface TrapInfo {
  kind: string;
  message: string;
  stack: string[];
  /** The wasm frames, innermost first, in the metered module (the main thread maps them). */
  frames: RawFrame[];
  /** The import that found a bad pointer (the first line of `stack`). */
  hostImport?: string;
}

const WASM_FRAME = /^\s*at (?:(.*?) \()?wasm:\/\/wasm\/[^:]*:(wasm-function\[\d+\]):(0x[0-9a-f]+)\)?\s*$/;

/** Wasm frames of a stack trace, innermost first, as V8 reports them. */
export function rawFrames(stack: string | undefined): RawFrame[] {
  if (!stack) return [];
  const frames: RawFrame[] = [];
  for (const line of stack.split('\n')) {
    const m = WASM_FRAME.exec(line);
    if (!m) continue;
    const frame: RawFrame = { func: Number(/\d+/.exec(m[2]!)![0]), offset: parseInt(m[3]!, 16) };
    if (m[1] && m[1].length > 0 && !m[1].startsWith('wasm-function[')) frame.name = m[1];
    frames.push(frame);
  }
  return frames;
}

/** Guest frames, innermost first; runs of the same frame (deep recursion) are folded. */
export function guestStack(stack: string | undefined, names: Record<number, string> = {}): string[] {
  if (!stack) return [];
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    const m = WASM_FRAME.exec(line);
    if (!m) continue;
    // Stripped modules have no name section; an exported function still has its export name.
    const index = Number(/\d+/.exec(m[2]!)![0]);
    const named = m[1] && m[1].length > 0 && !m[1].startsWith('wasm-function[') ? m[1] : undefined;
    const name = named ?? names[index] ?? m[2]!;
    frames.push(`${name} @ ${m[3]}`);
  }
  // A metered module enters each export through a thin wrapper with the same name (see src/fuel);
  // the outermost "on_reload" directly under "on_reload" is that wrapper, not a recursion.
  const nameOf = (f: string): string => f.slice(0, f.indexOf(' @ '));
  const last = frames[frames.length - 1];
  const prev = frames[frames.length - 2];
  if (last !== undefined && prev !== undefined && last !== prev && nameOf(last) === nameOf(prev)) frames.pop();
  const folded: string[] = [];
  for (let i = 0; i < frames.length; ) {
    let j = i + 1;
    while (j < frames.length && frames[j] === frames[i]) j++;
    folded.push(j - i > 1 ? `${frames[i]} (×${j - i})` : frames[i]!);
    i = j;
  }
  return folded;
}

// WebAssembly.Exception (Node 20 has it; TypeScript's lib does not declare it yet).
const WasmException = (WebAssembly as unknown as { Exception?: abstract new (...args: never[]) => object }).Exception;

export function classifyTrap(err: unknown, names: Record<number, string> = {}): TrapInfo {
  if (err instanceof GuestFault) {
    const stack = guestStack(err.stack, names);
    if (err.where) stack.unshift(`${err.where} (host import)`);
    return { kind: err.kind, message: err.message, stack, frames: rawFrames(err.stack), ...(err.where ? { hostImport: err.where } : {}) };
  }
  if (err instanceof RangeError && /call stack size/i.test(err.message)) {
    return { kind: 'stack overflow', message: 'stack overflow (call stack exhausted)', stack: guestStack(err.stack, names), frames: rawFrames(err.stack) };
  }
  if (err instanceof WebAssembly.RuntimeError) {
    const kind = err.message.replace(/^RuntimeError: /, '');
    return { kind, message: kind, stack: guestStack(err.stack, names), frames: rawFrames(err.stack) };
  }
  if (WasmException && err instanceof WasmException) {
    // A guest `throw` that no guest handler caught (exception handling): it ends the call like a trap.
    return { kind: 'uncaught exception', message: 'uncaught exception: a guest `throw` that no handler in the guest caught', stack: [], frames: [] };
  }
  if (err instanceof Error) {
    // A host import bug or an engine limit; still only this call fails.
    return { kind: 'host error', message: `${err.name}: ${err.message}`, stack: guestStack(err.stack, names), frames: rawFrames(err.stack) };
  }
  return { kind: 'host error', message: `non-error thrown: ${String(err)}`, stack: [], frames: [] };
}
