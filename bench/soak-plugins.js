// The soak's four plugins as WAT (bench/soak.js): good, out of fuel on every call, trapping every
// 10th call, using storage. Each exports a bump allocator and on_request_complete.

const ALLOC = `
  (global $hp (mut i32) (i32.const 4096))
  (func (export "bext_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $hp))
    (global.set $hp (i32.add (global.get $hp) (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
    (local.get $p))
  (func (export "bext_dealloc") (param i32 i32) (global.set $hp (i32.const 4096)))`;

export const SOAK_PLUGINS = {
  // Reads the event (sums its bytes) and emits a metric.
  good: `(module
    (import "bext" "emit_metric" (func $metric (param i32 i32 f64 i32 i32)))
    (memory (export "memory") 2) ${ALLOC}
    (data (i32.const 16) "soak_events")
    (func (export "on_request_complete") (param $p i32) (param $n i32) (result i32) (local $i i32) (local $s i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (call $metric (i32.const 16) (i32.const 11) (f64.convert_i32_u (local.get $s)) (i32.const 0) (i32.const 0))
      (i32.const 0)))`,
  // Loops until the budget runs out, on every call.
  fuel: `(module (memory (export "memory") 1) ${ALLOC}
    (func (export "on_request_complete") (param i32 i32) (result i32) (loop $forever (br $forever)) (i32.const 0)))`,
  // Traps (unreachable) on every 10th call.
  trap: `(module (memory (export "memory") 1) ${ALLOC}
    (global $n (mut i32) (i32.const 0))
    (func $boom (unreachable))
    (func (export "on_request_complete") (param i32 i32) (result i32)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (if (i32.eqz (i32.rem_u (global.get $n) (i32.const 10))) (then (call $boom)))
      (i32.const 0)))`,
  // Writes a counter under one of 100 keys and reads it back.
  storage: `(module
    (import "bext" "storage_set" (func $set (param i32 i32 i32 i32) (result i32)))
    (import "bext" "storage_get" (func $get (param i32 i32) (result i64)))
    (memory (export "memory") 2) ${ALLOC}
    (global $n (mut i32) (i32.const 0))
    (data (i32.const 16) "key-00")
    (func (export "on_request_complete") (param i32 i32) (result i32) (local $k i32)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (local.set $k (i32.rem_u (global.get $n) (i32.const 100)))
      (i32.store8 (i32.const 20) (i32.add (i32.const 48) (i32.div_u (local.get $k) (i32.const 10))))
      (i32.store8 (i32.const 21) (i32.add (i32.const 48) (i32.rem_u (local.get $k) (i32.const 10))))
      (i32.store (i32.const 32) (global.get $n))
      (if (i32.ne (call $set (i32.const 16) (i32.const 6) (i32.const 32) (i32.const 4)) (i32.const 0)) (then (return (i32.const 1))))
      (drop (call $get (i32.const 16) (i32.const 6)))
      (i32.const 0)))`,
};
