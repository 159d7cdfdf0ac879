// Dense double-precision matrix multiply: nested loops, float arithmetic, memory traffic.
#include <stdint.h>
#define N 160
static double a[N * N], b[N * N], c[N * N];

__attribute__((export_name("run")))
uint32_t run(uint32_t rounds) {
  for (int i = 0; i < N * N; i++) {
    a[i] = (double)(i % 17) * 0.5;
    b[i] = (double)(i % 13) * 0.25;
  }
  double sum = 0;
  for (uint32_t r = 0; r < rounds; r++) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        double s = 0;
        for (int k = 0; k < N; k++) s += a[i * N + k] * b[k * N + j];
        c[i * N + j] = s;
      }
    sum += c[(r * 7) % (N * N)];
    a[r % (N * N)] += 1.0;
  }
  return (uint32_t)sum;
}
