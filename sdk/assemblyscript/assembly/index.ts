// bext plugin API for AssemblyScript (ABI v1). Build plugins with `--runtime stub`.
//
//   import { bext } from "path/to/sdk/assemblyscript/assembly";
//   export { bext_alloc, bext_dealloc } from "path/to/sdk/assemblyscript/assembly";
//
//   export function on_request_complete(ptr: usize, len: i32): i64 {
//     const event = bext.arg(ptr, len);
//     if (bext.json_bool(event, "is_bot")) bext.emit_metric("bot_requests", 1);
//     return bext.ok();
//   }
//
//   npx asc plugin.ts --runtime stub --exportStart _initialize \
//       --use abort=path/to/sdk/assemblyscript/assembly/index/bext_abort -O3 -o plugin.wasm
//
// Hooks are plain exported functions with the ABI's parameters; they return `bext.ok()` or
// `bext.err("message")` (bext shows the message in its logs and counts the call as an error).
//
// Memory: the stub runtime never frees. Pass `true` to ok()/err() to reset the heap after the
// hook, when the plugin keeps no heap objects (strings, arrays, class instances) in globals
// across calls; numbers and booleans in globals are fine. Otherwise memory grows with each call.

// ---- Raw host imports (module "bext") ------------------------------------------------------

@external("bext", "log")
declare function _log(level: usize, level_len: i32, msg: usize, msg_len: i32): void;
@external("bext", "storage_get")
declare function _storage_get(key: usize, key_len: i32): i64;
@external("bext", "storage_set")
declare function _storage_set(key: usize, key_len: i32, val: usize, val_len: i32): i32;
@external("bext", "storage_delete")
declare function _storage_delete(key: usize, key_len: i32): i32;
@external("bext", "http_fetch")
declare function _http_fetch(req: usize, req_len: i32): i64;
@external("bext", "get_config")
declare function _get_config(key: usize, key_len: i32): i64;
@external("bext", "emit_metric")
declare function _emit_metric(name: usize, name_len: i32, value: f64, tags: usize, tags_len: i32): void;
@external("bext", "kv_get")
declare function _kv_get(ns: usize, ns_len: i32, key: usize, key_len: i32): i64;
@external("bext", "kv_set")
declare function _kv_set(ns: usize, ns_len: i32, key: usize, key_len: i32, val: usize, val_len: i32): i32;
@external("bext", "kv_delete")
declare function _kv_delete(ns: usize, ns_len: i32, key: usize, key_len: i32): i32;
@external("bext", "queue_publish")
declare function _queue_publish(name: usize, name_len: i32, msg: usize, msg_len: i32): i32;
@external("bext", "queue_consume")
declare function _queue_consume(name: usize, name_len: i32): i64;

// ---- Exports every plugin re-exports ---------------------------------------------------------

/** Host → guest buffers (hook arguments, read results). Raw blocks of the stub runtime. */
export function bext_alloc(size: i32): usize {
  return heap.alloc(size > 0 ? <usize>size : 1);
}

/** Frees what bext_alloc returned (the stub runtime only reclaims the most recent block). */
export function bext_dealloc(ptr: usize, len: i32): void {
  if (ptr != 0) heap.free(ptr);
}

/** Replacement for AssemblyScript's `abort` (pass `--use abort=.../index/bext_abort`): the
 * failure is logged through bext with its source location before the call traps. */
export function bext_abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = "abort: " + (message !== null ? message : "(no message)") + " at " +
    (fileName !== null ? fileName : "?") + ":" + line.toString() + ":" + column.toString();
  const buf = String.UTF8.encode(text);
  const level = String.UTF8.encode("error");
  _log(changetype<usize>(level), level.byteLength, changetype<usize>(buf), buf.byteLength);
  unreachable();
}

// ---- Helpers --------------------------------------------------------------------------------

class Utf8 {
  constructor(public ptr: usize, public len: i32, public buf: ArrayBuffer) {}
  static of(s: string): Utf8 {
    const buf = String.UTF8.encode(s);
    return new Utf8(changetype<usize>(buf), buf.byteLength, buf);
  }
}

function packPtr(packed: i64): usize {
  return <usize>(<u64>packed >>> 32);
}
function packLen(packed: i64): i32 {
  return <i32>(<u64>packed & 0xffffffff);
}

/** Decodes and releases a packed host result; "" for an empty value. */
function takeString(packed: i64): string {
  const ptr = packPtr(packed);
  const len = packLen(packed);
  if (len == 0) return "";
  const s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  heap.free(ptr);
  return s;
}

function takeBytes(packed: i64): Uint8Array {
  const ptr = packPtr(packed);
  const len = packLen(packed);
  const out = new Uint8Array(len);
  if (len > 0) {
    memory.copy(out.dataStart, ptr, <usize>len);
    heap.free(ptr);
  }
  return out;
}

/** Copies a string into a fresh bext_alloc block and packs (ptr << 32) | len for the host. */
function packString(s: string): i64 {
  const buf = String.UTF8.encode(s);
  const len = buf.byteLength;
  const ptr = bext_alloc(len);
  memory.copy(ptr, changetype<usize>(buf), <usize>len);
  return <i64>((<u64>ptr << 32) | <u64>(<u32>len));
}

/** Resets the stub runtime's bump heap; a no-op with runtimes that collect garbage. */
function resetHeap(): void {
  if (isDefined(__reset)) heap.reset();
}

function escapeJson(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) {
      const hex = c.toString(16);
      out += "\\u" + "0000".substring(hex.length) + hex;
    } else out += String.fromCharCode(c);
  }
  return out;
}

// ---- Minimal JSON reading (top-level fields of an object) ----------------------------------

function skipWs(s: string, i: i32): i32 {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    i++;
  }
  return i;
}

/** Index just past the JSON string starting at s[i] == '"'. */
function skipString(s: string, i: i32): i32 {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x5c) i += 2;
    else if (c == 0x22) return i + 1;
    else i++;
  }
  return i;
}

/** Index just past the JSON value starting at s[i]. */
function skipValue(s: string, i: i32): i32 {
  i = skipWs(s, i);
  if (i >= s.length) return i;
  const c = s.charCodeAt(i);
  if (c == 0x22) return skipString(s, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < s.length) {
      const d = s.charCodeAt(i);
      if (d == 0x22) { i = skipString(s, i); continue; }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) { depth--; if (depth == 0) return i + 1; }
      i++;
    }
    return i;
  }
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) break;
    i++;
  }
  return i;
}

function unescape(raw: string): string {
  if (raw.indexOf("\\") < 0) return raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c != 0x5c || i + 1 >= raw.length) { out += String.fromCharCode(c); continue; }
    const e = raw.charCodeAt(++i);
    if (e == 0x6e) out += "\n";
    else if (e == 0x74) out += "\t";
    else if (e == 0x72) out += "\r";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x75 && i + 4 < raw.length) {
      out += String.fromCharCode(<i32>I32.parseInt(raw.substring(i + 1, i + 5), 16));
      i += 4;
    } else out += String.fromCharCode(e);
  }
  return out;
}

export namespace bext {
  // ABI codes
  export const OK: i32 = 0;
  export const NOT_FOUND: i32 = -1;
  export const PERMISSION_DENIED: i32 = -2;
  export const QUOTA_EXCEEDED: i32 = -3;
  export const RATE_LIMITED: i32 = -4;
  export const INVALID_ARGUMENT: i32 = -5;
  export const TOO_LARGE: i32 = -6;
  export const INTERNAL: i32 = -7;

  /** Code of the last read that returned null (NOT_FOUND or an error); OK after a hit. */
  export let lastError: i32 = 0;

  /** Short description of an ABI code. */
  export function strerror(code: i32): string {
    if (code == OK) return "ok";
    if (code == NOT_FOUND) return "not found";
    if (code == PERMISSION_DENIED) return "permission denied";
    if (code == QUOTA_EXCEEDED) return "storage quota exceeded";
    if (code == RATE_LIMITED) return "rate limited";
    if (code == INVALID_ARGUMENT) return "invalid argument";
    if (code == TOO_LARGE) return "too large";
    if (code == INTERNAL) return "host internal error";
    return "host error " + code.toString();
  }

  // ---- hook plumbing ----

  /** A hook's string argument (UTF-8 written by the host at ptr). */
  export function arg(ptr: usize, len: i32): string {
    return len > 0 ? String.UTF8.decodeUnsafe(ptr, <usize>len) : "";
  }

  /** Hook result: success. `reset`: see the note at the top of this file (stub runtime only). */
  export function ok(reset: bool = false): i64 {
    if (reset) resetHeap();
    return 0;
  }

  /** Hook result: failure with a message bext logs and counts. */
  export function err(message: string, reset: bool = false): i64 {
    const packed = packString(message.length > 0 ? message : "error (empty message)");
    // The message bytes stay intact until the next allocation, and the host reads them first.
    if (reset) resetHeap();
    return packed;
  }

  /** For `export function bext_name(): i64 { return bext.name("my-plugin"); }`. */
  export function name(pluginName: string): i64 {
    return packString(pluginName);
  }

  // ---- logging ----

  /** level: "trace", "debug", "info", "warn" or "error". */
  export function log(level: string, msg: string): void {
    const l = Utf8.of(level);
    const m = Utf8.of(msg);
    _log(l.ptr, l.len, m.ptr, m.len);
  }
  export function debug(msg: string): void { log("debug", msg); }
  export function info(msg: string): void { log("info", msg); }
  export function warn(msg: string): void { log("warn", msg); }
  export function error(msg: string): void { log("error", msg); }

  // ---- plugin storage ----

  /** The value of `key`, or null (then `lastError` says NOT_FOUND or why). */
  export function storage_get(key: string): string | null {
    const k = Utf8.of(key);
    const r = _storage_get(k.ptr, k.len);
    if (r < 0) { lastError = <i32>r; return null; }
    lastError = OK;
    return takeString(r);
  }
  export function storage_get_bytes(key: string): Uint8Array | null {
    const k = Utf8.of(key);
    const r = _storage_get(k.ptr, k.len);
    if (r < 0) { lastError = <i32>r; return null; }
    lastError = OK;
    return takeBytes(r);
  }
  /** OK, or a negative code (QUOTA_EXCEEDED, INVALID_ARGUMENT...). */
  export function storage_set(key: string, value: string): i32 {
    const k = Utf8.of(key);
    const v = Utf8.of(value);
    return _storage_set(k.ptr, k.len, v.ptr, v.len);
  }
  export function storage_set_bytes(key: string, value: Uint8Array): i32 {
    const k = Utf8.of(key);
    return _storage_set(k.ptr, k.len, value.dataStart, value.length);
  }
  /** OK when deleted, NOT_FOUND when there was nothing. */
  export function storage_delete(key: string): i32 {
    const k = Utf8.of(key);
    return _storage_delete(k.ptr, k.len);
  }

  /** Adds `delta` to an integer kept as text under `key`; returns the new value. */
  export function storage_add(key: string, delta: i64): i64 {
    const cur = storage_get(key);
    const value = (cur !== null && cur.length > 0 ? I64.parseInt(cur) : 0) + delta;
    storage_set(key, value.toString());
    return value;
  }

  // ---- shared KV ----

  export function kv_get(namespace: string, key: string): string | null {
    const n = Utf8.of(namespace);
    const k = Utf8.of(key);
    const r = _kv_get(n.ptr, n.len, k.ptr, k.len);
    if (r < 0) { lastError = <i32>r; return null; }
    lastError = OK;
    return takeString(r);
  }
  export function kv_set(namespace: string, key: string, value: string): i32 {
    const n = Utf8.of(namespace);
    const k = Utf8.of(key);
    const v = Utf8.of(value);
    return _kv_set(n.ptr, n.len, k.ptr, k.len, v.ptr, v.len);
  }
  export function kv_delete(namespace: string, key: string): i32 {
    const n = Utf8.of(namespace);
    const k = Utf8.of(key);
    return _kv_delete(n.ptr, n.len, k.ptr, k.len);
  }

  // ---- queues ----

  export function queue_publish(name: string, message: string): i32 {
    const n = Utf8.of(name);
    const m = Utf8.of(message);
    return _queue_publish(n.ptr, n.len, m.ptr, m.len);
  }
  /** The oldest message, or null when empty (lastError = NOT_FOUND) or refused. */
  export function queue_consume(name: string): string | null {
    const n = Utf8.of(name);
    const r = _queue_consume(n.ptr, n.len);
    if (r < 0) { lastError = <i32>r; return null; }
    lastError = OK;
    return takeString(r);
  }

  // ---- config ----

  /** JSON text of a config value ("a.b" walks tables, "" = all), or null when missing. */
  export function get_config(key: string): string | null {
    const k = Utf8.of(key);
    const r = _get_config(k.ptr, k.len);
    if (r < 0) { lastError = <i32>r; return null; }
    lastError = OK;
    return takeString(r);
  }
  /** A string config value without its JSON quotes, or `fallback`. */
  export function config_string(key: string, fallback: string = ""): string {
    const v = get_config(key);
    if (v === null || v.length < 2 || v.charCodeAt(0) != 0x22) return fallback;
    return unescape(v.substring(1, v.length - 1));
  }
  /** A numeric config value, or `fallback`. */
  export function config_number(key: string, fallback: f64 = 0): f64 {
    const v = get_config(key);
    if (v === null || v.length == 0) return fallback;
    const n = F64.parseFloat(v);
    return isNaN(n) ? fallback : n;
  }

  // ---- metrics ----

  /** tags: [["path", "/"], ["kind", "bot"]]. */
  export function emit_metric(name: string, value: f64, tags: string[][] = []): void {
    let json = "{";
    for (let i = 0; i < tags.length; i++) {
      const pair = tags[i];
      if (pair.length < 2) continue;
      if (json.length > 1) json += ",";
      json += "\"" + escapeJson(pair[0]) + "\":\"" + escapeJson(pair[1]) + "\"";
    }
    json += "}";
    const n = Utf8.of(name);
    const t = Utf8.of(json);
    _emit_metric(n.ptr, n.len, value, t.ptr, t.len);
  }

  // ---- HTTP ----

  export class HttpRequest {
    headers: string[][] = [];
    body: string | null = null;
    constructor(public method: string, public url: string) {}
    header(name: string, value: string): HttpRequest {
      this.headers.push([name, value]);
      return this;
    }
    withBody(body: string): HttpRequest {
      this.body = body;
      return this;
    }
    toJson(): string {
      let json = "{\"url\":\"" + escapeJson(this.url) + "\",\"method\":\"" + escapeJson(this.method) + "\",\"headers\":[";
      for (let i = 0; i < this.headers.length; i++) {
        if (i > 0) json += ",";
        json += "[\"" + escapeJson(this.headers[i][0]) + "\",\"" + escapeJson(this.headers[i][1]) + "\"]";
      }
      json += "]";
      const body = this.body;
      if (body !== null) json += ",\"body\":\"" + escapeJson(body) + "\"";
      return json + "}";
    }
  }

  export class HttpResponse {
    constructor(
      /** HTTP status; 0 when the fetch failed (see `error`). */
      public status: i32,
      public body: string,
      /** Why the fetch failed (refused URL, DNS, timeout, rate limit...), else "". */
      public error: string,
      /** The whole response JSON, for headers: json_raw(raw, "headers"). */
      public raw: string,
    ) {}
    get ok(): bool { return this.status >= 200 && this.status < 300; }
  }

  /** Performs the request through the host. Never throws: failures have status 0 and `error`. */
  export function http_fetch(req: HttpRequest): HttpResponse {
    const r = Utf8.of(req.toJson());
    const packed = _http_fetch(r.ptr, r.len);
    if (packed < 0) return new HttpResponse(0, "", strerror(<i32>packed), "");
    const json = takeString(packed);
    return new HttpResponse(<i32>json_number(json, "status", 0), json_string(json, "body"), json_string(json, "error"), json);
  }

  // ---- JSON field access (top level of an object; enough for hook arguments) ----

  /** Raw JSON text of field `key` of the object `json`, or null. */
  export function json_raw(json: string, key: string): string | null {
    let i = skipWs(json, 0);
    if (i >= json.length || json.charCodeAt(i) != 0x7b) return null;
    i++;
    while (i < json.length) {
      i = skipWs(json, i);
      if (i >= json.length || json.charCodeAt(i) == 0x7d) return null;
      if (json.charCodeAt(i) == 0x2c) { i++; continue; }
      if (json.charCodeAt(i) != 0x22) return null;
      const keyEnd = skipString(json, i);
      const name = unescape(json.substring(i + 1, keyEnd - 1));
      i = skipWs(json, keyEnd);
      if (i >= json.length || json.charCodeAt(i) != 0x3a) return null;
      const start = skipWs(json, i + 1);
      const end = skipValue(json, start);
      if (name == key) return json.substring(start, end);
      i = end;
    }
    return null;
  }
  /** A string field (unescaped), or `fallback` when missing or not a string. */
  export function json_string(json: string, key: string, fallback: string = ""): string {
    const raw = json_raw(json, key);
    if (raw === null || raw.length < 2 || raw.charCodeAt(0) != 0x22) return fallback;
    return unescape(raw.substring(1, raw.length - 1));
  }
  /** A numeric field, or `fallback`. */
  export function json_number(json: string, key: string, fallback: f64 = 0): f64 {
    const raw = json_raw(json, key);
    if (raw === null) return fallback;
    const n = F64.parseFloat(raw);
    return isNaN(n) ? fallback : n;
  }
  /** A boolean field (true only for JSON `true`). */
  export function json_bool(json: string, key: string): bool {
    const raw = json_raw(json, key);
    return raw !== null && raw == "true";
  }
  /** `s` as a JSON string literal, quotes included. */
  export function json_quote(s: string): string {
    return "\"" + escapeJson(s) + "\"";
  }
}
