// Sieve of Eratosthenes: tight loops over a byte array.
#include <stdint.h>
static uint8_t composite[2000000];

__attribute__((export_name("run")))
uint32_t run(uint32_t n) {
  if (n > sizeof composite) n = sizeof composite;
  for (uint32_t i = 0; i < n; i++) composite[i] = 0;
  uint32_t count = 0;
  for (uint32_t i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    for (uint64_t j = (uint64_t)i * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}
