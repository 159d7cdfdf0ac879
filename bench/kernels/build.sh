#!/bin/sh
# Rebuilds the benchmark kernels (the built .wasm files are committed).
set -e
cd "$(dirname "$0")"
for k in sieve matmul fib sha256 json ackermann; do
  clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -o "$k.wasm" "$k.c"
done
