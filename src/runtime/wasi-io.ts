/**
 * WASI for a plugin: node:wasi with no preopened directories, args or environment, except that
 * writes to stdout/stderr are taken line by line into the plugin's log (at debug) instead of the
 * process's own streams, and proc_exit ends only the current call.
 */
import { createRequire } from 'node:module';
import type { WASI as WasiClass } from 'node:wasi';
import { GuestFault, refusingAfterFault } from './guest.js';

const ERRNO_SUCCESS = 0;
const ERRNO_FAULT = 21;
/** A line longer than this is emitted in pieces, so a guest without newlines cannot grow memory. */
const MAX_LINE = 16 * 1024;

export interface WasiHost {
  imports: Record<string, unknown>;
  /** Must be called once the instance exists (WASI calls read and write its memory). */
  attach(memory: WebAssembly.Memory): void;
  /** Emits any unterminated output (end of each call). */
  flush(): void;
}

/**
 * node:wasi, loaded on first use: loading it emits an "experimental" warning, and a lazy load
 * lets the worker entry install its warning filter first, whatever order its imports load in.
 */
let wasiClass: typeof WasiClass | null = null;
function loadWasi(): typeof WasiClass {
  wasiClass ??= (createRequire(import.meta.url)('node:wasi') as typeof import('node:wasi')).WASI;
  return wasiClass;
}

export function createWasi(onLine: (stream: 'stdout' | 'stderr', line: string) => void): WasiHost {
  const WASI = loadWasi();
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: {}, returnOnExit: true });
  let memory: WebAssembly.Memory | null = null;
  const pending: Record<1 | 2, string> = { 1: '', 2: '' };
  const decoder = { 1: new TextDecoder(), 2: new TextDecoder() };
  const streamOf = (fd: 1 | 2): 'stdout' | 'stderr' => (fd === 1 ? 'stdout' : 'stderr');

  const emit = (fd: 1 | 2, text: string): void => {
    let buf = pending[fd] + text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(streamOf(fd), buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      onLine(streamOf(fd), buf.slice(0, MAX_LINE));
      buf = buf.slice(MAX_LINE);
    }
    pending[fd] = buf;
  };

  const native = wasi.wasiImport as Record<string, (...a: number[]) => number>;
  const fdWrite = (fd: number, iovs: number, iovsLen: number, nwritten: number): number => {
    if (fd !== 1 && fd !== 2) return native.fd_write!(fd, iovs, iovsLen, nwritten);
    if (!memory) return ERRNO_FAULT;
    const size = memory.buffer.byteLength;
    const base = iovs >>> 0;
    const count = iovsLen >>> 0;
    if (base + count * 8 > size || (nwritten >>> 0) + 4 > size) return ERRNO_FAULT;
    const dv = new DataView(memory.buffer);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const ptr = dv.getUint32(base + i * 8, true);
      const len = dv.getUint32(base + i * 8 + 4, true);
      if (ptr + len > size) return ERRNO_FAULT;
      emit(fd, decoder[fd].decode(new Uint8Array(memory.buffer, ptr, len), { stream: true }));
      total += len;
    }
    dv.setUint32(nwritten >>> 0, total, true);
    return ERRNO_SUCCESS;
  };

  // stdout/stderr are described as a terminal (a character device without seek/tell), whatever
  // bext's own streams are: wasi-libc then line-buffers them, so each line reaches the log when
  // the guest writes its newline instead of when a 1 KiB buffer fills.
  const FILETYPE_CHARACTER_DEVICE = 2;
  const RIGHT_FD_WRITE = 1n << 6n;
  const fdFdstatGet = (fd: number, out: number): number => {
    if (fd !== 1 && fd !== 2) return native.fd_fdstat_get!(fd, out);
    if (!memory) return ERRNO_FAULT;
    const at = out >>> 0;
    if (at + 24 > memory.buffer.byteLength) return ERRNO_FAULT;
    const dv = new DataView(memory.buffer);
    dv.setUint8(at, FILETYPE_CHARACTER_DEVICE);
    dv.setUint8(at + 1, 0);
    dv.setUint16(at + 2, 0, true);
    dv.setUint32(at + 4, 0, true);
    dv.setBigUint64(at + 8, RIGHT_FD_WRITE, true);
    dv.setBigUint64(at + 16, 0n, true);
    return ERRNO_SUCCESS;
  };

  const procExit = (code: number): never => {
    throw new GuestFault('proc_exit', `guest called proc_exit(${code >>> 0}); the call ends, the instance stays loaded`, 'wasi_snapshot_preview1.proc_exit');
  };

  return {
    imports: refusingAll({ ...native, fd_write: fdWrite, fd_fdstat_get: fdFdstatGet, proc_exit: procExit }),
    attach(mem) {
      memory = mem;
      // node:wasi needs the memory for every other call; it reads only `exports.memory` here.
      wasi.initialize({ exports: { memory: mem } } as unknown as WebAssembly.Instance);
    },
    flush() {
      // Runs after every call: two plain checks, nothing allocated when nothing is pending.
      if (pending[1] !== '') {
        onLine(streamOf(1), pending[1]);
        pending[1] = '';
      }
      if (pending[2] !== '') {
        onLine(streamOf(2), pending[2]);
        pending[2] = '';
      }
    },
  };
}

/** Every WASI function, made to refuse after a fault the guest caught (guest.ts, GuestFault). */
function refusingAll(fns: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) {
    // node:wasi's own functions report no arity; the generic form passes every argument.
    out[name] = typeof fn === 'function' ? refusingAfterFault(fn as (...args: unknown[]) => unknown, -1) : fn;
  }
  return out;
}
