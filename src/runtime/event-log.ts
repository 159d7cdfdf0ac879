/**
 * The request event log: one ring of fixed-size slots in memory every plugin worker shares with
 * the main thread. For each response the main thread writes the on_request_complete event once,
 * as its raw fields (numbers as numbers, strings as their UTF-8 bytes); each worker that runs the
 * hook makes the event's JSON from the slot itself, straight into its own scratch, and hands it to
 * the guest. So an event costs the main thread no event object, no JSON and no copy per plugin:
 * a plugin's queue holds the event's sequence number, and a batch names a run of slots.
 *
 * The JSON is exactly what JSON.stringify makes of the event object (docs/abi.md, "Request
 * events"): same keys in the same order, strings escaped as JSON.stringify escapes them, numbers
 * as String(n) (null when not finite). Strings are stored raw, escaped by the reader byte by byte
 * (a quote, a backslash, a control character: what JSON.stringify escapes in valid UTF-16, all
 * ASCII, so the same in UTF-8), except a string with a surrogate (a lone one is escaped as \udXXX
 * by JSON.stringify but has no UTF-8 form): it is stored as its JSON text.
 *
 * A slot is reused only once every plugin that was handed its event is done with it (ran it,
 * dropped it, or forgot it): the main thread counts references per slot. An event that does not
 * fit in a slot, or finds its slot still in use (a plugin holding events as long as the ring),
 * takes the old road (an object with its JSON string), so nothing is lost to the ring itself.
 *
 * Slot layout (bytes):
 *   0   f64 × 5   status, render_time_us, duration_us, bytes, ts
 *   40  i32       is_bot (0/1)
 *   44  i32 × 9   per string field: -1 null, else (byte length << 1) | 1 when stored as JSON text
 *   80  the strings' bytes, back to back
 */
import type { HookArgs, QueuedCall } from './types.js';

/** Slots in the ring (a power of two). */
export const EVENT_SLOTS = 4096;
/** Bytes per slot; the strings of an event get SLOT_BYTES − STR_AT. */
export const SLOT_BYTES = 512;
const STR_AT = 80;
const CODES_AT = 44;
const NUMS = 5;
const STRINGS = 9;
/** Sequence numbers wrap here (a multiple of EVENT_SLOTS), so they stay small integers. */
const SEQ_MASK = 0x3fffffff;
const SLOT_MASK = EVENT_SLOTS - 1;

/** Most bytes one event's JSON can take: its keys, and each string byte escaped as \u00XX. */
export const MAX_EVENT_JSON = 256 + 6 * (SLOT_BYTES - STR_AT) + NUMS * 32;

/** The hook of a queued call. */
export function hookOf(a: QueuedCall): HookArgs['hook'] {
  return typeof a === 'number' ? 'on_request_complete' : a.hook;
}

/** Whether b is the event right after a in the log. */
export function nextInLog(a: number, b: number): boolean {
  return ((b - a) & SEQ_MASK) === 1;
}

export function slotOf(seq: number): number {
  return seq & SLOT_MASK;
}

// The JSON around the fields, in the order of the event's keys (status after method, ts last).
const enc = new TextEncoder();
const KEY = {
  path: enc.encode('{"path":'),
  query: enc.encode(',"query":'),
  method: enc.encode(',"method":'),
  status: enc.encode(',"status":'),
  cache: enc.encode(',"cache_status":'),
  render: enc.encode(',"render_time_us":'),
  duration: enc.encode(',"duration_us":'),
  bytes: enc.encode(',"bytes":'),
  tenant: enc.encode(',"tenant_id":'),
  site: enc.encode(',"site_id":'),
  encoding: enc.encode(',"encoding":'),
  bot: enc.encode(',"is_bot":'),
  ua: enc.encode(',"user_agent":'),
  referer: enc.encode(',"referer":'),
  ts: enc.encode(',"ts":'),
};
const TRUE = enc.encode('true');
const FALSE = enc.encode('false');
const NULL = enc.encode('null');
const HEX = enc.encode('0123456789abcdef');

// String field indexes, in slot order.
const F_PATH = 0;
const F_QUERY = 1;
const F_METHOD = 2;
const F_CACHE = 3;
const F_TENANT = 4;
const F_SITE = 5;
const F_ENCODING = 6;
const F_UA = 7;
const F_REFERER = 8;

const SURROGATE = /[\ud800-\udfff]/;

/** Buffer's own UTF-8 writer (what buf.write(s, at, max, 'utf8') calls after parsing its arguments). */
type Bytes = Buffer & { utf8Write(s: string, at: number, max: number): number };

interface Views {
  bytes: Bytes;
  f64: Float64Array;
  i32: Int32Array;
}

function views(buffer: SharedArrayBuffer): Views {
  return { bytes: Buffer.from(buffer) as Bytes, f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
}

/** The raw fields of one request event (the server decides what they are; see server/request-event.ts). */
export interface EventFields {
  path: string;
  query: string;
  method: string;
  status: number;
  cacheStatus: string;
  renderUs: number;
  durationUs: number;
  bytes: number;
  tenantId: string | null;
  siteId: string | null;
  encoding: string;
  isBot: boolean;
  userAgent: string;
  referer: string | null;
  ts: number;
}

/** Reads events out of the log as JSON bytes (any thread). */
export class EventLogReader {
  private readonly v: Views;
  private out = new Uint8Array(MAX_EVENT_JSON);
  readonly slots = EVENT_SLOTS;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.v = views(buffer);
  }

  /** The JSON of the event in `slot`; a view valid until the next call. */
  json(slot: number): Uint8Array {
    const n = this.jsonInto(slot, this.out);
    return this.out.subarray(0, n);
  }

  /** Writes the JSON of the event in `slot` at the start of `out` (MAX_EVENT_JSON bytes at least); returns its length. */
  jsonInto(slot: number, out: Uint8Array): number {
    const { f64, i32 } = this.v;
    const base = slot * SLOT_BYTES;
    const nums = base >> 3;
    const codes = (base + CODES_AT) >> 2;
    // Byte loops throughout: the pieces are short, and a typed array's set() costs more per call
    // than copying a few dozen bytes.
    let at = base + STR_AT;
    let o = copy(KEY.path, out, 0);
    o = this.str(i32[codes + F_PATH]!, at, out, o);
    at += strBytes(i32[codes + F_PATH]!);
    o = copy(KEY.query, out, o);
    o = this.str(i32[codes + F_QUERY]!, at, out, o);
    at += strBytes(i32[codes + F_QUERY]!);
    o = copy(KEY.method, out, o);
    o = this.str(i32[codes + F_METHOD]!, at, out, o);
    at += strBytes(i32[codes + F_METHOD]!);
    o = copy(KEY.status, out, o);
    o = writeNumber(f64[nums]!, out, o);
    o = copy(KEY.cache, out, o);
    o = this.str(i32[codes + F_CACHE]!, at, out, o);
    at += strBytes(i32[codes + F_CACHE]!);
    o = copy(KEY.render, out, o);
    o = writeNumber(f64[nums + 1]!, out, o);
    o = copy(KEY.duration, out, o);
    o = writeNumber(f64[nums + 2]!, out, o);
    o = copy(KEY.bytes, out, o);
    o = writeNumber(f64[nums + 3]!, out, o);
    o = copy(KEY.tenant, out, o);
    o = this.str(i32[codes + F_TENANT]!, at, out, o);
    at += strBytes(i32[codes + F_TENANT]!);
    o = copy(KEY.site, out, o);
    o = this.str(i32[codes + F_SITE]!, at, out, o);
    at += strBytes(i32[codes + F_SITE]!);
    o = copy(KEY.encoding, out, o);
    o = this.str(i32[codes + F_ENCODING]!, at, out, o);
    at += strBytes(i32[codes + F_ENCODING]!);
    o = copy(KEY.bot, out, o);
    o = copy(i32[(base + 40) >> 2] === 1 ? TRUE : FALSE, out, o);
    o = copy(KEY.ua, out, o);
    o = this.str(i32[codes + F_UA]!, at, out, o);
    at += strBytes(i32[codes + F_UA]!);
    o = copy(KEY.referer, out, o);
    o = this.str(i32[codes + F_REFERER]!, at, out, o);
    o = copy(KEY.ts, out, o);
    o = writeNumber(f64[nums + 4]!, out, o);
    out[o++] = 0x7d; // }
    return o;
  }

  /** One string field (its code, its bytes at `at`) as JSON at `o`. */
  private str(code: number, at: number, out: Uint8Array, o: number): number {
    if (code < 0) return copy(NULL, out, o);
    const bytes = this.v.bytes;
    const len = code >> 1;
    if ((code & 1) === 0) return quoted(bytes, at, len, out, o);
    // Stored as its JSON text.
    for (let i = 0; i < len; i++) out[o + i] = bytes[at + i]!;
    return o + len;
  }
}

/** Bytes a string field takes in the slot. */
function strBytes(code: number): number {
  return code < 0 ? 0 : code >> 1;
}

function copy(piece: Uint8Array, out: Uint8Array, o: number): number {
  for (let i = 0; i < piece.length; i++) out[o + i] = piece[i]!;
  return o + piece.length;
}

/** Raw UTF-8 bytes as a JSON string: quoted, with what JSON.stringify escapes escaped. */
function quoted(bytes: Uint8Array, at: number, len: number, out: Uint8Array, o: number): number {
  out[o++] = 0x22;
  const end = at + len;
  for (let i = at; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
      out[o++] = b;
      continue;
    }
    out[o++] = 0x5c;
    switch (b) {
      case 0x22:
      case 0x5c:
        out[o++] = b;
        break;
      case 0x08:
        out[o++] = 0x62; // b
        break;
      case 0x09:
        out[o++] = 0x74; // t
        break;
      case 0x0a:
        out[o++] = 0x6e; // n
        break;
      case 0x0c:
        out[o++] = 0x66; // f
        break;
      case 0x0d:
        out[o++] = 0x72; // r
        break;
      default:
        out[o++] = 0x75; // u00XX, lower-case hex as JSON.stringify writes it
        out[o++] = 0x30;
        out[o++] = 0x30;
        out[o++] = HEX[b >> 4]!;
        out[o++] = HEX[b & 15]!;
    }
  }
  out[o++] = 0x22;
  return o;
}

/** A number as String(n) writes it (null when not finite, as JSON.stringify). */
function writeNumber(n: number, out: Uint8Array, o: number): number {
  if (n >= 0 && n <= 0x7fffffff && Number.isInteger(n)) {
    // Non-negative integers (nearly every field): digits without a string. -0 lands here as "0".
    let v = n | 0;
    if (v === 0) {
      out[o++] = 0x30;
      return o;
    }
    let digits = 0;
    for (let t = v; t > 0; t = (t / 10) | 0) digits++;
    o += digits;
    for (let i = o - 1; v > 0; i--) {
      out[i] = 0x30 + (v % 10);
      v = (v / 10) | 0;
    }
    return o;
  }
  const s = Number.isFinite(n) ? String(n) : 'null';
  for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i);
  return o;
}

/** The main thread's end: writes events, counts who still needs each slot. */
export class EventLog extends EventLogReader {
  private readonly w: Views;
  /** Per slot: how many queues (and held lists) still hold its event. */
  private readonly refs = new Uint16Array(EVENT_SLOTS);
  private next = 0;

  constructor() {
    super(new SharedArrayBuffer(EVENT_SLOTS * SLOT_BYTES));
    this.w = views(this.buffer);
  }

  /**
   * Writes an event into the next slot; its sequence number, or -1 when it takes the old road
   * (the slot is still in use, or its strings do not fit). Nobody holds it yet (see retain).
   */
  append(e: EventFields): number {
    const seq = this.next;
    const slot = seq & SLOT_MASK;
    if (this.refs[slot] !== 0) return -1;
    const { f64, i32 } = this.w;
    const base = slot * SLOT_BYTES;
    const codes = (base + CODES_AT) >> 2;
    const end = base + SLOT_BYTES;
    let at = base + STR_AT;
    // Strings first: an event that does not fit leaves nothing behind.
    at = this.put(e.path, at, end, codes + F_PATH);
    if (at >= 0) at = this.put(e.query, at, end, codes + F_QUERY);
    if (at >= 0) at = this.put(e.method, at, end, codes + F_METHOD);
    if (at >= 0) at = this.put(e.cacheStatus, at, end, codes + F_CACHE);
    if (at >= 0) at = this.put(e.tenantId, at, end, codes + F_TENANT);
    if (at >= 0) at = this.put(e.siteId, at, end, codes + F_SITE);
    if (at >= 0) at = this.put(e.encoding, at, end, codes + F_ENCODING);
    if (at >= 0) at = this.put(e.userAgent, at, end, codes + F_UA);
    if (at >= 0) at = this.put(e.referer, at, end, codes + F_REFERER);
    if (at < 0) return -1;
    const nums = base >> 3;
    f64[nums] = e.status;
    f64[nums + 1] = e.renderUs;
    f64[nums + 2] = e.durationUs;
    f64[nums + 3] = e.bytes;
    f64[nums + 4] = e.ts;
    i32[(base + 40) >> 2] = e.isBot ? 1 : 0;
    this.next = (seq + 1) & SEQ_MASK;
    return seq;
  }

  /** Writes one string field at `at`; where the next one goes, or -1 when it does not fit. */
  private put(s: string | null, at: number, end: number, code: number): number {
    const i32 = this.w.i32;
    if (s === null) {
      i32[code] = -1;
      return at;
    }
    const n = s.length;
    if (n === 0) {
      i32[code] = 0;
      return at;
    }
    // At least a byte per UTF-16 unit, at most three: only in between are the bytes counted.
    if (at + n > end) return -1;
    const bytes = this.w.bytes;
    // ASCII (nearly every path and header): copied unit by unit, which costs less than a call
    // into Buffer's encoder for strings this short.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[at + i] = c;
    }
    if (i === n) {
      i32[code] = n << 1;
      return at + n;
    }
    if (at + 3 * n > end && at + Buffer.byteLength(s) > end) return -1;
    const written = bytes.utf8Write(s, at, end - at);
    // A surrogate (a lone one has no UTF-8 form) makes it stored as the JSON text JSON.stringify
    // writes for it.
    if (!SURROGATE.test(s)) {
      i32[code] = written << 1;
      return at + written;
    }
    const json = JSON.stringify(s);
    if (at + 3 * json.length > end && at + Buffer.byteLength(json) > end) return -1;
    const w = bytes.utf8Write(json, at, end - at);
    i32[code] = (w << 1) | 1;
    return at + w;
  }

  /** `n` more queues hold event `seq` (each lets go of it with release). */
  retain(seq: number, n: number): void {
    this.refs[seq & SLOT_MASK]! += n;
  }

  release(seq: number): void {
    const slot = seq & SLOT_MASK;
    if (this.refs[slot]! > 0) this.refs[slot]!--;
  }

  /** The event's JSON as a string (for the paths that need one: a call sent alone or by message, a failure's input size). */
  jsonText(seq: number): string {
    const bytes = this.json(seq & SLOT_MASK);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  }
}

let shared: EventLog | null = null;

/** The process's event log (made on first use: only a server with plugins writes one). */
export function eventLog(): EventLog {
  return (shared ??= new EventLog());
}

/** A queued call as hook arguments (an event in the log becomes its JSON text). */
export function callArgs(a: QueuedCall): HookArgs {
  return typeof a === 'number' ? { hook: 'on_request_complete', eventJson: eventLog().jsonText(a) } : a;
}
