// The stack frame V8 (TurboFan, x64) gives each function of a bench kernel, plain and metered.
// Run: `node bench/kernels/frame-sizes.js [kernel] [--json]` (after `npx tsc -p .`); Linux x64 only.
//
// Why: a recursion whose frame is a multiple of 64 bytes puts every level at the same offset in its
// cache line, which on some processors is slow at one offset (docs/fuel.md, "Deep recursion and
// the stack's cache-line offset"). The metered build gives each self-recursive function a twin
// (src/fuel/twins.ts) whose frame must differ from its original's by 8 bytes; marked "twin" here. V8 does not report frame sizes, so this reads them from the
// machine code: a child process with --perf-basic-prof lists where each function's code is, reads
// it from /proc/self/mem, and decodes the prologue V8 emits for a wasm function:
//   push rbp; mov rbp,rsp; push 8 (frame marker); push rsi (instance); [sub rsp, N]
// The frame is then the return address, those three pushes and N bytes of spill slots.
import { readFileSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const PROLOGUE = [0x55, 0x48, 0x89, 0xe5, 0x6a, 0x08, 0x56];

/** Frame bytes from the start of a wasm function's machine code, or undefined if unrecognised. */
function frameBytes(code) {
  if (!PROLOGUE.every((b, i) => code[i] === b)) return undefined;
  const at = PROLOGUE.length;
  const fixed = 32;
  if (code[at] === 0x48 && code[at + 1] === 0x83 && code[at + 2] === 0xec) return fixed + code[at + 3];
  if (code[at] === 0x48 && code[at + 1] === 0x81 && code[at + 2] === 0xec) return fixed + code.readInt32LE(at + 3);
  return fixed;
}

/** In the child: compile both builds, run them once, read the frames. */
async function inChild(kernel) {
  const { instrument, initialFuelFor } = await import('../../dist/fuel/index.js');
  const { parseModule } = await import('../../dist/wasm/index.js');
  const plainBytes = readFileSync(path.join(here, `${kernel}.wasm`));
  const builds = [
    ['plain', plainBytes],
    ['metered', await instrument(plainBytes)],
    ['twins', await instrument(plainBytes, { twins: true })],
  ];
  // Twins come after the metered module's own functions: the input's, bext_out_of_fuel (and bext_start).
  const info = parseModule(plainBytes);
  const out = { twinsFrom: info.functionTypes.length + 1 + (info.start !== null ? 1 : 0) };
  const mapFile = `/tmp/perf-${process.pid}.map`;
  for (const [name, bytes] of builds) {
    const before = new Set(readFileSync(mapFile, 'utf8').split('\n'));
    // V8 compiles (and lists) a wasm function when it is first called: run the kernel once, small.
    const { instance } = await WebAssembly.instantiate(bytes, {});
    if (instance.exports.bext_fuel) instance.exports.bext_fuel.value = initialFuelFor(Number.MAX_SAFE_INTEGER);
    instance.exports._initialize?.();
    instance.exports.run(3);
    const lines = readFileSync(mapFile, 'utf8').split('\n').filter((l) => !before.has(l) && /wasm-function\[\d+\]/.test(l));
    const fd = openSync('/proc/self/mem', 'r');
    try {
      out[name] = {};
      for (const line of lines) {
        const [addr, size] = line.split(' ');
        const index = Number(/wasm-function\[(\d+)\]/.exec(line)[1]);
        const code = Buffer.alloc(Math.min(16, parseInt(size, 16)));
        readSync(fd, code, 0, code.length, parseInt(addr, 16));
        out[name][index] = frameBytes(code) ?? null;
      }
    } finally {
      closeSync(fd);
    }
  }
  rmSync(mapFile, { force: true });
  console.log(JSON.stringify(out));
}

/** Frame bytes per function index, for the plain build of `kernel`, the metered one and the metered one with twins, and the first twin's index. */
export function kernelFrames(kernel) {
  const out = execFileSync(process.execPath, ['--no-liftoff', '--perf-basic-prof', self, '--child', kernel], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop());
}

/** "f1 48, f2 56", twins marked: "f6 72 (twin)" */
export function formatFrames(frames, twinsFrom = Infinity) {
  return Object.entries(frames)
    .map(([i, b]) => `f${i} ${b ?? '?'}${Number(i) >= twinsFrom ? ' (twin)' : ''}`)
    .join(', ');
}

if (process.argv[1] === self) {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    await inChild(process.argv[child + 1]);
  } else {
    const kernel = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'ackermann';
    const frames = kernelFrames(kernel);
    if (process.argv.includes('--json')) console.log(JSON.stringify(frames));
    else console.log(`${kernel}: V8 frame bytes per function (x64 TurboFan): plain ${formatFrames(frames.plain)} | metered ${formatFrames(frames.metered)} | with twins ${formatFrames(frames.twins, frames.twinsFrom)}`);
  }
}
