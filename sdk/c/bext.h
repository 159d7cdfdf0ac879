/*
 * bext.h: write bext plugins in C (header-only, ABI v1).
 *
 *   #include "bext.h"
 *
 *   BEXT_PLUGIN_NAME("hello")
 *
 *   BEXT_EXPORT_HOOK(on_request_complete)(const char *event, int32_t event_len) {
 *       bext_log_n("info", event, event_len);
 *       return BEXT_OK;
 *   }
 *
 * Build:
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-debug \
 *         -I path/to/sdk/c -o plugin.wasm plugin.c
 *
 * What this header gives you:
 *   - the host imports of module "bext", declared with their ABI v1 signatures;
 *   - wrappers that take C strings (and _n variants taking explicit lengths);
 *   - the allocator exports bext_alloc / bext_dealloc (malloc/free), weak so you can replace them;
 *   - BEXT_EXPORT_HOOK(name) to declare an exported hook returning int64_t: BEXT_OK (0), or
 *     bext_error("...") / bext_errorf("fmt", ...) which hand bext a message it shows in logs and stats.
 *
 * Memory: every byte buffer a read returns (bext_bytes.ptr) was allocated by the host through
 * bext_alloc (= malloc); release it with bext_bytes_free() or free(). Values from reads are
 * NUL-terminated for convenience (the NUL is not counted in .len).
 */
#ifndef BEXT_H
#define BEXT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ABI codes ------------------------------------------------------------------------ */

#define BEXT_OK 0
#define BEXT_NOT_FOUND (-1)
#define BEXT_PERMISSION_DENIED (-2)
#define BEXT_QUOTA_EXCEEDED (-3)
#define BEXT_RATE_LIMITED (-4)
#define BEXT_INVALID_ARGUMENT (-5)
#define BEXT_TOO_LARGE (-6)
#define BEXT_INTERNAL (-7)

/* ---- Raw host imports (module "bext") ----------------------------------------------------
 * Pointers are 32-bit offsets in this module's memory. Packed i64 results are
 * (ptr << 32) | len of bytes the host allocated with bext_alloc; negative = error code. */

#define BEXT_IMPORT(name) __attribute__((import_module("bext"), import_name(#name)))

BEXT_IMPORT(log) void bext_raw_log(const char *level, int32_t level_len, const char *msg, int32_t msg_len);
BEXT_IMPORT(storage_get) int64_t bext_raw_storage_get(const char *key, int32_t key_len);
BEXT_IMPORT(storage_set) int32_t bext_raw_storage_set(const char *key, int32_t key_len, const void *val, int32_t val_len);
BEXT_IMPORT(storage_delete) int32_t bext_raw_storage_delete(const char *key, int32_t key_len);
BEXT_IMPORT(http_fetch) int64_t bext_raw_http_fetch(const char *req, int32_t req_len);
BEXT_IMPORT(get_config) int64_t bext_raw_get_config(const char *key, int32_t key_len);
BEXT_IMPORT(emit_metric) void bext_raw_emit_metric(const char *name, int32_t name_len, double value, const char *tags, int32_t tags_len);
BEXT_IMPORT(kv_get) int64_t bext_raw_kv_get(const char *ns, int32_t ns_len, const char *key, int32_t key_len);
BEXT_IMPORT(kv_set) int32_t bext_raw_kv_set(const char *ns, int32_t ns_len, const char *key, int32_t key_len, const void *val, int32_t val_len);
BEXT_IMPORT(kv_delete) int32_t bext_raw_kv_delete(const char *ns, int32_t ns_len, const char *key, int32_t key_len);
BEXT_IMPORT(queue_publish) int32_t bext_raw_queue_publish(const char *name, int32_t name_len, const void *msg, int32_t msg_len);
BEXT_IMPORT(queue_consume) int64_t bext_raw_queue_consume(const char *name, int32_t name_len);

/* ---- Exports: allocator, hooks, name, priority ------------------------------------------ */

#define BEXT_EXPORT(name) __attribute__((export_name(#name)))

/* The host allocates every buffer it hands back through bext_alloc. One extra byte is kept
 * so reads can be NUL-terminated in place. */
__attribute__((weak)) BEXT_EXPORT(bext_alloc) void *bext_alloc(int32_t size) {
    return malloc(size > 0 ? (size_t)size + 1 : 1);
}

/* Where bext_error() puts its message when malloc fails (see there). Weak, so every file that
 * includes this header shares one buffer, and bext_dealloc knows not to free() it. */
#define BEXT_OOM_ERROR_SIZE 160
__attribute__((weak)) char bext_oom_error[BEXT_OOM_ERROR_SIZE];

__attribute__((weak)) BEXT_EXPORT(bext_dealloc) void bext_dealloc(void *ptr, int32_t len) {
    (void)len;
    if ((char *)ptr >= bext_oom_error && (char *)ptr < bext_oom_error + BEXT_OOM_ERROR_SIZE) return;
    free(ptr);
}

/* bext calls bext_flush() after every hook call (outside its fuel budget), so printf output that
 * the C library still buffers (a line without '\n') reaches the log when the call ends. */
__attribute__((weak)) BEXT_EXPORT(bext_flush) void bext_flush(void) {
    fflush(NULL);
}

/* Declares an exported hook. Parameters by hook:
 *   on_server_start(const char *config_json, int32_t len)
 *   on_request_complete(const char *event_json, int32_t len)
 *   on_cache_write(const char *key, int32_t key_len, const char *tags_json, int32_t tags_len)
 *   on_cache_invalidate(const char *pattern, int32_t pattern_len, int32_t count)
 *   on_reload(void), on_server_stop(void), cleanup(void)
 * The strings are NOT NUL-terminated; use the lengths (printf "%.*s" or bext_strndup). */
#define BEXT_EXPORT_HOOK(name) BEXT_EXPORT(name) int64_t name

/* Exports bext_name() so `bext plugin inspect` and the logs know the plugin's own name. */
#define BEXT_PLUGIN_NAME(str)                                                                  \
    BEXT_EXPORT(bext_name) int64_t bext_name(void) { return bext_pack_copy(str, (int32_t)strlen(str)); }

/* Exports bext_priority(): lower runs first (default 1000; the config file's value wins). */
#define BEXT_PLUGIN_PRIORITY(n)                                                                \
    BEXT_EXPORT(bext_priority) int32_t bext_priority(void) { return (int32_t)(n); }

/* Copies bytes into a fresh bext_alloc buffer and packs (ptr << 32) | len; bext frees it. */
static inline int64_t bext_pack_copy(const char *s, int32_t len) {
    char *p = (char *)bext_alloc(len);
    if (!p) return 0;
    if (len > 0) memcpy(p, s, (size_t)len);
    return (int64_t)(((uint64_t)(uintptr_t)p << 32) | (uint32_t)len);
}

/* A hook's error result: bext logs the message and counts the call as an error. Never 0 (= ok):
 * when malloc cannot provide the copy (the guest ran out of memory), the message goes into a
 * static buffer instead, cut to fit and prefixed with "out of memory: ". */
static inline int64_t bext_error(const char *msg) {
    if (!msg || !*msg) msg = "error (empty message)";
    int32_t len = (int32_t)strlen(msg);
    int64_t packed = bext_pack_copy(msg, len);
    if (packed != 0) return packed;
    int n = snprintf(bext_oom_error, BEXT_OOM_ERROR_SIZE, "out of memory: %s", msg);
    if (n < 0) n = 0;
    if (n >= BEXT_OOM_ERROR_SIZE) n = BEXT_OOM_ERROR_SIZE - 1;
    return (int64_t)(((uint64_t)(uintptr_t)bext_oom_error << 32) | (uint32_t)n);
}

static inline int64_t bext_errorf(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return bext_error(buf);
}

/* ---- Byte buffers returned by reads ------------------------------------------------------ */

typedef struct {
    char *ptr;    /* NUL-terminated copy owned by you; NULL when nothing was returned */
    int32_t len;  /* length without the NUL */
} bext_bytes;

static inline void bext_bytes_free(bext_bytes *b) {
    if (b && b->ptr) free(b->ptr);
    if (b) { b->ptr = NULL; b->len = 0; }
}

/* Unpacks a packed read: BEXT_OK and *out filled, or the negative code (out left empty). */
static inline int32_t bext_unpack(int64_t packed, bext_bytes *out) {
    out->ptr = NULL;
    out->len = 0;
    if (packed < 0) return (int32_t)packed;
    char *p = (char *)(uintptr_t)(uint32_t)((uint64_t)packed >> 32);
    int32_t len = (int32_t)(uint32_t)packed;
    if (!p) {
        /* Empty value the host did not allocate for. */
        p = (char *)malloc(1);
        if (!p) return BEXT_INTERNAL;
        len = 0;
    }
    p[len] = '\0'; /* bext_alloc reserved this byte */
    out->ptr = p;
    out->len = len;
    return BEXT_OK;
}

/* A copy of (s, len) as a NUL-terminated string (for hook arguments); free() it. */
static inline char *bext_strndup(const char *s, int32_t len) {
    char *p = (char *)malloc((size_t)(len > 0 ? len : 0) + 1);
    if (!p) return NULL;
    if (len > 0) memcpy(p, s, (size_t)len);
    p[len > 0 ? len : 0] = '\0';
    return p;
}

/* Short description of an ABI code, for messages. */
static inline const char *bext_strerror(int32_t code) {
    switch (code) {
    case BEXT_OK: return "ok";
    case BEXT_NOT_FOUND: return "not found";
    case BEXT_PERMISSION_DENIED: return "permission denied";
    case BEXT_QUOTA_EXCEEDED: return "storage quota exceeded";
    case BEXT_RATE_LIMITED: return "rate limited";
    case BEXT_INVALID_ARGUMENT: return "invalid argument";
    case BEXT_TOO_LARGE: return "too large";
    case BEXT_INTERNAL: return "host internal error";
    default: return "unknown host error";
    }
}

/* ---- Logging ----------------------------------------------------------------------------- */

/* level: "trace", "debug", "info", "warn" or "error". */
static inline void bext_log(const char *level, const char *msg) {
    bext_raw_log(level, (int32_t)strlen(level), msg, (int32_t)strlen(msg));
}
static inline void bext_log_n(const char *level, const char *msg, int32_t len) {
    bext_raw_log(level, (int32_t)strlen(level), msg, len);
}
static inline void bext_logf(const char *level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    bext_raw_log(level, (int32_t)strlen(level), buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1);
}

/* ---- Plugin storage ---------------------------------------------------------------------- */

/* BEXT_OK with *out filled, BEXT_NOT_FOUND, or another negative code. */
static inline int32_t bext_storage_get(const char *key, bext_bytes *out) {
    return bext_unpack(bext_raw_storage_get(key, (int32_t)strlen(key)), out);
}
static inline int32_t bext_storage_set_n(const char *key, const void *val, int32_t val_len) {
    return bext_raw_storage_set(key, (int32_t)strlen(key), val, val_len);
}
static inline int32_t bext_storage_set(const char *key, const char *val) {
    return bext_storage_set_n(key, val, (int32_t)strlen(val));
}
/* BEXT_OK when deleted, BEXT_NOT_FOUND when there was nothing. */
static inline int32_t bext_storage_delete(const char *key) {
    return bext_raw_storage_delete(key, (int32_t)strlen(key));
}

/* ---- Shared KV namespaces (kv_namespaces) ------------------------------------------------ */

static inline int32_t bext_kv_get(const char *ns, const char *key, bext_bytes *out) {
    return bext_unpack(bext_raw_kv_get(ns, (int32_t)strlen(ns), key, (int32_t)strlen(key)), out);
}
static inline int32_t bext_kv_set_n(const char *ns, const char *key, const void *val, int32_t val_len) {
    return bext_raw_kv_set(ns, (int32_t)strlen(ns), key, (int32_t)strlen(key), val, val_len);
}
static inline int32_t bext_kv_set(const char *ns, const char *key, const char *val) {
    return bext_kv_set_n(ns, key, val, (int32_t)strlen(val));
}
static inline int32_t bext_kv_delete(const char *ns, const char *key) {
    return bext_raw_kv_delete(ns, (int32_t)strlen(ns), key, (int32_t)strlen(key));
}

/* Integer counters kept as decimal text in a KV namespace: adds `delta`, returns the new value
 * in *result. Returns BEXT_OK or the negative code of the failing call. */
static inline int32_t bext_kv_add(const char *ns, const char *key, int64_t delta, int64_t *result) {
    bext_bytes cur;
    int64_t value = 0;
    int32_t rc = bext_kv_get(ns, key, &cur);
    if (rc == BEXT_OK) {
        value = strtoll(cur.ptr, NULL, 10);
        bext_bytes_free(&cur);
    } else if (rc != BEXT_NOT_FOUND) {
        return rc;
    }
    value += delta;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)value);
    rc = bext_kv_set_n(ns, key, buf, n);
    if (rc == BEXT_OK && result) *result = value;
    return rc;
}

/* ---- Queues (queue_names) ---------------------------------------------------------------- */

static inline int32_t bext_queue_publish_n(const char *name, const void *msg, int32_t len) {
    return bext_raw_queue_publish(name, (int32_t)strlen(name), msg, len);
}
static inline int32_t bext_queue_publish(const char *name, const char *msg) {
    return bext_queue_publish_n(name, msg, (int32_t)strlen(msg));
}
/* BEXT_OK with the oldest message in *out, or BEXT_NOT_FOUND when the queue is empty. */
static inline int32_t bext_queue_consume(const char *name, bext_bytes *out) {
    return bext_unpack(bext_raw_queue_consume(name, (int32_t)strlen(name)), out);
}

/* ---- Config ------------------------------------------------------------------------------ */

/* JSON of a config value ("a.b" walks tables; "" = whole config) into *out. */
static inline int32_t bext_get_config(const char *key, bext_bytes *out) {
    return bext_unpack(bext_raw_get_config(key, (int32_t)strlen(key)), out);
}

/* An integer config value, or `fallback` when missing or not a number. */
static inline int64_t bext_config_int(const char *key, int64_t fallback) {
    bext_bytes b;
    if (bext_get_config(key, &b) != BEXT_OK) return fallback;
    char *end = NULL;
    long long v = strtoll(b.ptr, &end, 10);
    int ok = end && end != b.ptr;
    bext_bytes_free(&b);
    return ok ? (int64_t)v : fallback;
}

/* ---- Metrics ----------------------------------------------------------------------------- */

/* tags_json: a JSON object ({"path":"/"}) or "" for none. */
static inline void bext_emit_metric(const char *name, double value, const char *tags_json) {
    if (!tags_json) tags_json = "";
    bext_raw_emit_metric(name, (int32_t)strlen(name), value, tags_json, (int32_t)strlen(tags_json));
}

/* ---- HTTP -------------------------------------------------------------------------------- */

/* request_json: {"url":..., "method":..., "headers":[[k,v]], "body":...}.
 * *out receives the response JSON {"status", "headers", "body"} or {"status":0,"error":...}. */
static inline int32_t bext_http_fetch(const char *request_json, bext_bytes *out) {
    return bext_unpack(bext_raw_http_fetch(request_json, (int32_t)strlen(request_json)), out);
}

/* ---- Tiny JSON helpers (enough for hook arguments; not a full parser) -------------------- */

/* Appends `s` (len bytes) to buf as the inside of a JSON string (quotes not included).
 * Returns the number of bytes written, never more than cap - 1; buf stays NUL-terminated. */
static inline size_t bext_json_escape(char *buf, size_t cap, const char *s, int32_t len) {
    size_t o = 0;
    if (cap == 0) return 0;
    for (int32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        const char *rep = NULL;
        size_t rl = 1;
        if (c == '"') rep = "\\\"", rl = 2;
        else if (c == '\\') rep = "\\\\", rl = 2;
        else if (c == '\n') rep = "\\n", rl = 2;
        else if (c == '\r') rep = "\\r", rl = 2;
        else if (c == '\t') rep = "\\t", rl = 2;
        else if (c < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", c); rep = tmp; rl = 6; }
        if (o + rl >= cap) break;
        if (rep) { memcpy(buf + o, rep, rl); o += rl; }
        else buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return o;
}

/* Iterates the strings of a flat JSON array like ["a","b\"c"]: call with *pos = 0, then
 * repeatedly; each call copies the next unescaped string into out (NUL-terminated, truncated to
 * cap - 1) and returns 1, or returns 0 at the end or on malformed input. */
static inline int bext_json_next_string(const char *json, int32_t len, int32_t *pos, char *out, size_t cap) {
    int32_t i = *pos;
    while (i < len && json[i] != '"') {
        if (json[i] == ']') { *pos = len; return 0; }
        i++;
    }
    if (i >= len) { *pos = len; return 0; }
    i++; /* opening quote */
    size_t o = 0;
    while (i < len && json[i] != '"') {
        char c = json[i++];
        if (c == '\\' && i < len) {
            char e = json[i++];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'u': c = '?'; i += 4; break; /* non-ASCII escapes are not decoded */
            default: c = e; break;
            }
        }
        if (o + 1 < cap) out[o++] = c;
    }
    if (cap) out[o] = '\0';
    if (i >= len) { *pos = len; return 0; }
    *pos = i + 1;
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* BEXT_H */
