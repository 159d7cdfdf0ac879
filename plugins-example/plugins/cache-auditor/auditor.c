/*
 * cache-auditor: keeps an audit of the response cache in the shared KV namespace "cache-audit".
 *
 *   on_cache_write       counts writes, per-tag writes and untagged pages; remembers each key's tags
 *   on_cache_invalidate  counts invalidations and entries removed; warns when a pattern matched nothing
 *   on_server_start      logs the audit so far
 *
 * KV keys (namespace "cache-audit"): writes, untagged, invalidations, invalidated_entries,
 * tag:<tag> (writes carrying that tag), key:<cache key> (its tags JSON).
 * Metrics: cache_writes{tagged="yes"|"no"}, cache_invalidated_entries.
 *
 * Build: clang --target=wasm32-wasi -O2 -mexec-model=reactor -I ../../../sdk/c -o plugin.wasm auditor.c
 */
#include "bext.h"

#define NS "cache-audit"

BEXT_PLUGIN_NAME("cache-auditor")
BEXT_PLUGIN_PRIORITY(900)

static int64_t counter(const char *key) {
    bext_bytes b;
    if (bext_kv_get(NS, key, &b) != BEXT_OK) return 0;
    int64_t v = strtoll(b.ptr, NULL, 10);
    bext_bytes_free(&b);
    return v;
}

static int64_t add(const char *key, int64_t delta, int32_t *rc) {
    int64_t value = 0;
    int32_t r = bext_kv_add(NS, key, delta, &value);
    if (r != BEXT_OK && *rc == BEXT_OK) *rc = r;
    return value;
}

BEXT_EXPORT_HOOK(on_server_start)(const char *config, int32_t config_len) {
    (void)config;
    (void)config_len;
    bext_logf("info", "cache audit so far: %lld writes (%lld untagged), %lld invalidations removing %lld entries",
              (long long)counter("writes"), (long long)counter("untagged"), (long long)counter("invalidations"),
              (long long)counter("invalidated_entries"));
    return BEXT_OK;
}

BEXT_EXPORT_HOOK(on_cache_write)(const char *key, int32_t key_len, const char *tags, int32_t tags_len) {
    int32_t rc = BEXT_OK;
    char tag[200];
    char kvkey[512];
    int32_t pos = 0;
    int ntags = 0;

    add("writes", 1, &rc);
    while (bext_json_next_string(tags, tags_len, &pos, tag, sizeof tag)) {
        snprintf(kvkey, sizeof kvkey, "tag:%s", tag);
        add(kvkey, 1, &rc);
        ntags++;
    }

    /* Remember this entry's tags so an operator can see what a purge by tag would hit. */
    snprintf(kvkey, sizeof kvkey, "key:%.*s", key_len > 400 ? 400 : (int)key_len, key);
    int32_t r = bext_kv_set_n(NS, kvkey, tags_len > 0 ? tags : "[]", tags_len > 0 ? tags_len : 2);
    if (r != BEXT_OK && rc == BEXT_OK) rc = r;

    if (ntags == 0) {
        int64_t untagged = add("untagged", 1, &rc);
        bext_logf("info", "%.*s was cached without tags (%lld untagged so far); send a cache-tag header to purge it by tag",
                  (int)key_len, key, (long long)untagged);
    }
    bext_emit_metric("cache_writes", 1, ntags ? "{\"tagged\":\"yes\"}" : "{\"tagged\":\"no\"}");

    if (rc != BEXT_OK) return bext_errorf("cache-audit KV write failed: %s (%d); is \"" NS "\" in kv_namespaces?", bext_strerror(rc), rc);
    return BEXT_OK;
}

BEXT_EXPORT_HOOK(on_cache_invalidate)(const char *pattern, int32_t pattern_len, int32_t count) {
    int32_t rc = BEXT_OK;
    add("invalidations", 1, &rc);
    add("invalidated_entries", count, &rc);
    if (count == 0) {
        bext_logf("warn", "invalidation pattern %.*s matched no cache entries (typo? keys look like page:/path)",
                  (int)pattern_len, pattern);
    }
    char tags[300];
    char escaped[256];
    bext_json_escape(escaped, sizeof escaped, pattern, pattern_len);
    snprintf(tags, sizeof tags, "{\"pattern\":\"%s\"}", escaped);
    bext_emit_metric("cache_invalidated_entries", (double)count, tags);
    if (rc != BEXT_OK) return bext_errorf("cache-audit KV write failed: %s (%d)", bext_strerror(rc), rc);
    return BEXT_OK;
}
