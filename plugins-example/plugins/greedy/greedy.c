/*
 * greedy: a deliberately expensive plugin, to see fuel budgets, stats and traps at work.
 *
 *   on_request_complete  counts primes below `work` (config, default 80000) by trial division:
 *                        a sizeable share of the 100,000,000 default budget on every request.
 *                        A path containing "/expensive" loops forever: the call runs out of fuel.
 *                        A path containing "/crash" executes `unreachable`: the call traps.
 *   on_server_start      logs what it is about to do.
 *
 * Neither outcome affects responses or other plugins; both are logged and counted:
 *   bext plugin stats greedy
 *
 * Build: clang --target=wasm32-wasi -O2 -mexec-model=reactor -I ../../../sdk/c -o plugin.wasm greedy.c
 */
#include "bext.h"

BEXT_PLUGIN_NAME("greedy")

static int64_t work_limit(void) {
    int64_t n = bext_config_int("work", 80000);
    return n > 0 ? n : 80000;
}

/* noinline keeps these names in trap stacks. */
__attribute__((noinline)) static int32_t count_primes(int64_t below) {
    int32_t count = 0;
    for (int64_t n = 2; n < below; n++) {
        int is_prime = 1;
        for (int64_t d = 2; d * d <= n; d++) {
            if (n % d == 0) { is_prime = 0; break; }
        }
        count += is_prime;
    }
    return count;
}

__attribute__((noinline)) static void spin_forever(void) {
    volatile uint64_t spins = 0;
    for (;;) spins++;
}

__attribute__((noinline)) static void deliberate_crash(void) {
    __builtin_trap();
}

static int contains(const char *s, int32_t len, const char *needle) {
    size_t n = strlen(needle);
    for (int32_t i = 0; i + (int32_t)n <= len; i++) {
        if (memcmp(s + i, needle, n) == 0) return 1;
    }
    return 0;
}

BEXT_EXPORT_HOOK(on_server_start)(const char *config, int32_t config_len) {
    (void)config;
    (void)config_len;
    bext_logf("info", "greedy: counting primes below %lld on every request; /expensive runs out of fuel, /crash traps",
              (long long)work_limit());
    return BEXT_OK;
}

BEXT_EXPORT_HOOK(on_request_complete)(const char *event, int32_t event_len) {
    if (contains(event, event_len, "/expensive")) spin_forever();
    if (contains(event, event_len, "/crash")) deliberate_crash();
    int32_t primes = count_primes(work_limit());
    bext_emit_metric("greedy_primes", (double)primes, "");
    return BEXT_OK;
}
