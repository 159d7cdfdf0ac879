/**
 * The deadline of one http_fetch (permissions.fetch_timeout_ms): a timer, and the signal that
 * the DNS wait, undici's request and the handler's own waits listen to.
 *
 * The signal is an EventEmitter, which undici takes as readily as an AbortSignal. A node
 * AbortController costs far more for what a fetch needs of it: creating its AbortSignal and adding
 * and removing each listener go through node's EventTarget, which took some 5% of a fetch's main
 * thread time in a CPU profile of the handler against a loopback server.
 */
import { EventEmitter } from 'node:events';

/** What a fetch step needs of the deadline: whether it passed, and a way to hear when it does. */
export interface FetchSignal {
  readonly aborted: boolean;
  once(event: 'abort', listener: () => void): unknown;
  removeListener(event: 'abort', listener: () => void): unknown;
}

export interface Deadline {
  readonly signal: FetchSignal;
  /** The fetch ended: the timer goes, and the deadline never fires. */
  clear(): void;
}

class DeadlineSignal extends EventEmitter implements FetchSignal {
  aborted = false;
  /** What undici rejects its request with on abort (it reads `reason` as an AbortSignal has it). */
  reason: Error | undefined = undefined;
}

/** A deadline `ms` from now. */
export function startDeadline(ms: number): Deadline {
  const signal = new DeadlineSignal();
  const timer = setTimeout(() => {
    signal.aborted = true;
    signal.reason = Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
    signal.emit('abort');
  }, ms);
  return { signal, clear: () => clearTimeout(timer) };
}

/** Settles with the promise, or rejects as soon as the deadline passes (for waits that may not end by themselves, like a lookup). */
export function abortable<T>(p: Promise<T>, signal: FetchSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.once('abort', onAbort);
    p.then(
      (v) => {
        signal.removeListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
