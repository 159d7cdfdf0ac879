/**
 * A synchronous call from a worker to the main thread. Guest code is synchronous: when a guest
 * calls `http_fetch`, the worker must block until the main thread (which owns the network client)
 * answers. The worker posts the request on a dedicated MessagePort, then sleeps in `Atomics.wait`
 * on a shared Int32 (no busy wait). The main thread runs the async handler, posts the answer on
 * the port and only then flips the flag and notifies; the worker wakes and takes the answer
 * synchronously with `receiveMessageOnPort`. Answers of any size pass without chunking.
 *
 * A worker stuck here forever (a handler that never answers) is ended by the call timeout, which
 * terminates the worker; termination interrupts `Atomics.wait`.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/**
 * An operation the worker asks the main thread to perform (today `http_fetch`, declared by the
 * fetch capability); the main thread's `onMainCall` handler dispatches on it.
 */
export type MainOp = string;

/** Flag slot values. */
const WAITING = 0;
const ANSWERED = 1;

interface BridgeRequest {
  seq: number;
  op: MainOp;
  payload: string;
}

interface BridgeAnswer {
  seq: number;
  result: string;
}

/** The half that goes to the worker (transfer `port` in the postMessage transfer list). */
export interface BridgeWorkerEnd {
  port: MessagePort;
  flag: SharedArrayBuffer;
}

export type MainCallHandler = (op: MainOp, payload: string) => Promise<string>;

export interface Bridge {
  worker: BridgeWorkerEnd;
  /** Starts answering requests with `handler`. */
  serve(handler: MainCallHandler): void;
  close(): void;
}

export function createBridge(): Bridge {
  const { port1, port2 } = new MessageChannel();
  const flag = new SharedArrayBuffer(4);
  const cell = new Int32Array(flag);
  return {
    worker: { port: port2, flag },
    serve(handler) {
      port1.on('message', (req: BridgeRequest) => {
        void (async () => {
          let result: string;
          try {
            result = await handler(req.op, req.payload);
          } catch (err) {
            result = JSON.stringify({ status: 0, error: `host error: ${(err as Error)?.message ?? String(err)}` });
          }
          const answer: BridgeAnswer = { seq: req.seq, result };
          port1.postMessage(answer);
          Atomics.store(cell, 0, ANSWERED);
          Atomics.notify(cell, 0);
        })();
      });
      // The bridge must never keep the process alive on its own.
      port1.unref();
    },
    close() {
      port1.close();
    },
  };
}

/** Worker side: returns a blocking `callMain(op, payload) -> answer`. */
export function connectBridge(end: BridgeWorkerEnd): (op: MainOp, payload: string) => string {
  const cell = new Int32Array(end.flag);
  let seq = 0;
  return (op, payload) => {
    const mine = ++seq;
    Atomics.store(cell, 0, WAITING);
    const req: BridgeRequest = { seq: mine, op, payload };
    end.port.postMessage(req);
    for (;;) {
      Atomics.wait(cell, 0, WAITING);
      Atomics.store(cell, 0, WAITING);
      // Answers to earlier requests (none in practice: calls are sequential) are skipped by seq.
      for (let msg = receiveMessageOnPort(end.port); msg; msg = receiveMessageOnPort(end.port)) {
        const answer = msg.message as BridgeAnswer;
        if (answer.seq === mine) return answer.result;
      }
    }
  };
}
