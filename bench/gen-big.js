// Generates the C source of a large module (thousands of distinct functions with loops,
// switches, calls, memory and float code) for the instrumentation-speed benchmark. The built
// module is not committed: the benchmark builds it once into the OS temp dir with clang.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A small seeded PRNG (mulberry32): the same modules on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bigModuleSource(functions, seed = 1) {
  const r = rng(seed);
  const pick = (n) => Math.floor(r() * n);
  const lines = ['#include <stdint.h>', 'static uint32_t mem[4096];', 'static double fmem[512];'];
  for (let i = 0; i < functions; i++) lines.push(`uint32_t f${i}(uint32_t a, uint32_t b);`);
  for (let i = 0; i < functions; i++) {
    const body = [];
    body.push(`  uint32_t x = a * ${pick(1000) + 1}u + b, y = b ^ ${pick(1 << 20)}u; double d = (double)a * ${(r() * 10).toFixed(3)};`);
    const stmts = 6 + pick(10);
    for (let s = 0; s < stmts; s++) {
      switch (pick(7)) {
        case 0:
          body.push(`  for (uint32_t i = 0; i < (a & ${pick(15) + 1}u); i++) { x += mem[(i * ${pick(97) + 1}u + y) & 4095u] ^ (x << ${pick(7) + 1}); y = y * 31u + i; }`);
          break;
        case 1:
          body.push(`  switch ((x + y) & 7u) { case 0: x ^= ${pick(1 << 16)}u; break; case 1: y += x >> 3; break; case 2: x = x * 3u + 1u; break; case 3: mem[x & 4095u] = y; break; case 5: y -= ${pick(999)}u; break; default: x = (x >> 1) | (y << 31); }`);
          break;
        case 2:
          if (i > 0) body.push(`  if ((x & ${pick(63) + 1}u) == 0u && b < ${pick(4) + 1}u) x += f${pick(i)}(y, b + 1u);`);
          break;
        case 3:
          body.push(`  d = d * ${(r() * 3).toFixed(4)} + fmem[(x + ${pick(512)}u) & 511u]; fmem[y & 511u] = d; if (d > 1e6) d = d / 3.0;`);
          break;
        case 4:
          body.push(`  while (y > ${pick(1 << 20) + 100}u) { y = (y >> 2) + (x & 255u); x++; }`);
          break;
        case 5:
          body.push(`  x = (x % ${pick(1000) + 2}u) * (y | 1u) + (uint32_t)(int32_t)(int16_t)(y >> ${pick(16)});`);
          break;
        default:
          body.push(`  mem[(x ^ y) & 4095u] += x - y; y = mem[(y + ${pick(4096)}u) & 4095u] + (uint32_t)d;`);
      }
    }
    body.push('  return x ^ y ^ (uint32_t)d;');
    lines.push(`__attribute__((noinline)) uint32_t f${i}(uint32_t a, uint32_t b) {`, ...body, '}');
  }
  lines.push('__attribute__((export_name("run"))) uint32_t run(uint32_t n) {', '  uint32_t acc = 0;');
  lines.push(`  for (uint32_t i = 0; i < n; i++) acc += f${functions - 1}(i, 0) + f${Math.floor(functions / 2)}(acc, 0);`);
  lines.push('  return acc;', '}');
  const text = lines.join('\n') + '\n';
  return { text, hash: createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

/**
 * The module of bigModuleSource(functions) built with clang -O0 (every function exported), once:
 * cached in the OS temp dir by the source's hash. Throws when clang for wasm32-wasi is missing.
 */
export function compiledBigModule(functions) {
  const { text, hash } = bigModuleSource(functions);
  const dir = path.join(tmpdir(), 'bext-bench');
  const wasm = path.join(dir, `big-${hash}.wasm`);
  if (existsSync(wasm)) return readFileSync(wasm);
  mkdirSync(dir, { recursive: true });
  const c = path.join(dir, `big-${hash}.c`);
  writeFileSync(c, text);
  console.log('building the large module with clang (once; cached in %s)...', dir);
  execFileSync('clang', ['--target=wasm32-wasi', '-O0', '-mexec-model=reactor', '-Wl,--export-all', '-o', wasm, c], { stdio: 'inherit' });
  return readFileSync(wasm);
}
