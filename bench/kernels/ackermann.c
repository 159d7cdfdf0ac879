// Ackermann A(2, n): nothing but calls, recursing about 2n frames deep (n = 1600: ~3200 frames,
// ~5 million calls), the case where metering per call is paid on a deep stack.
#include <stdint.h>
__attribute__((noinline)) static uint32_t ack(uint32_t m, uint32_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

// The deepest the recursion went in the last run (checked by the bench: at least 3000).
static uint32_t depth, deepest;
__attribute__((noinline)) static uint32_t ack_counted(uint32_t m, uint32_t n) {
  if (++depth > deepest) deepest = depth;
  uint32_t r = m == 0 ? n + 1 : n == 0 ? ack_counted(m - 1, 1) : ack_counted(m - 1, ack_counted(m, n - 1));
  depth--;
  return r;
}

__attribute__((export_name("run")))
uint32_t run(uint32_t n) { return ack(2, n); }

__attribute__((export_name("max_depth")))
uint32_t max_depth(uint32_t n) {
  depth = deepest = 0;
  ack_counted(2, n);
  return deepest;
}
