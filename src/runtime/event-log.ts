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
 * as String(n) (null when not finite). A string with nothing to escape (nearly all) is stored as
 * its UTF-8 bytes and the reader only quotes it; one with a quote, a backslash, a control
 * character or a surrogate (a lone one has no UTF-8 form) is stored as its JSON.stringify text.
 *
 * Most events repeat the strings of the one before (one browser, one load generator). Such an
 * event is written as its numbers and the slot that holds its strings, all in the slot's first
 * 64 bytes: one cache line per event for the main thread to write and for the workers to read,
 * where copying the strings again touched four or five, and streamed the whole ring through the
 * server thread's cache. The event whose strings are shared (the holder) is kept alive by every
 * event that points at it (it counts their references too), and a new holder is written once
 * the last one is half a ring old, so a holder is never what keeps the ring from moving on.
 *
 * A slot is reused only once every plugin that was handed its event, or an event pointing at its
 * strings, is done with it (ran it, dropped it, or forgot it): the main thread counts references
 * per slot. An event that does not fit in a slot, or finds its slot still in use (a plugin holding
 * events as long as the ring), takes the old road (an object with its JSON string), so nothing
 * is lost to the ring itself.
 *
 * Slot layout (bytes):
 *   0   f64 × 5   status, render_time_us, duration_us, bytes, ts
 *   40  i32       bit 0: is_bot; bit 1: every string (and is_bot) is the same as the event before's
 *   44  i32       the event's sequence number
 *   48  i32       the slot holding the event's strings (its own, or the holder's when bit 1 is set)
 *   52  i32 × 9   per string field: -1 null, else (byte length << 1) | 1 when stored as JSON text
 *   88  the strings' bytes, back to back (in the holder's slot)
 */
import type { HookArgs, QueuedCall } from './types.js';

/** Slots in the ring (a power of two). */
export const EVENT_SLOTS = 8192;
/** Bytes per slot; the strings of an event get SLOT_BYTES − STR_AT. */
export const SLOT_BYTES = 512;
const FLAGS_AT = 40;
const SEQ_AT = 44;
const HOLDER_AT = 48;
const CODES_AT = 52;
const STR_AT = 88;
const IS_BOT = 1;
const SAME = 2;
/** Sequence numbers wrap here (a multiple of EVENT_SLOTS), so they stay small integers. */
const SEQ_MASK = 0x3fffffff;
const SLOT_MASK = EVENT_SLOTS - 1;

/** More bytes than one event's JSON can take: its keys, numbers and literals, and its strings' bytes (escaped ones are stored escaped). */
export const MAX_EVENT_JSON = 1024;

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

/**
 * What JSON.stringify escapes in a string: quote, backslash, control characters, and surrogates
 * (lone ones; a string with a pair is stored as its JSON text too, which is the same bytes).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Strings up to this long are written by a loop in JS; longer ones by Buffer's encoder. */
const SHORT = 16;

interface Views {
  bytes: Buffer;
  /** The same bytes as a plain Uint8Array: its subarray() makes no Buffer. */
  u8: Uint8Array;
  f64: Float64Array;
  i32: Int32Array;
}

function views(buffer: SharedArrayBuffer): Views {
  return { bytes: Buffer.from(buffer), u8: new Uint8Array(buffer), f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
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

/** Reads events out of the log as JSON (any thread). */
export class EventLogReader {
  private readonly v: Views;
  /** A plain Uint8Array: a Buffer's subarray, made for every event handed out, costs several times as much. */
  private readonly out = new Uint8Array(MAX_EVENT_JSON);
  readonly slots = EVENT_SLOTS;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.v = views(buffer);
  }

  /**
   * The JSON of the event in `slot` as UTF-8; a view valid until the next call. Events mostly
   * repeat the strings of the one before (one browser, one load generator): the JSON between the
   * numbers is kept as bytes from the last event read, and reused when this one's strings are
   * the same bytes, so such an event costs a comparison and the numbers' digits.
   */
  json(slot: number): Uint8Array {
    const { i32, f64 } = this.v;
    const base = slot * SLOT_BYTES;
    const seq = i32[(base + SEQ_AT) >> 2]!;
    // The pieces hold: this event repeats the strings of the one before, whose JSON was read last.
    const repeat = this.last >= 0 && (i32[(base + FLAGS_AT) >> 2]! & SAME) !== 0 && nextInLog(this.last, seq);
    this.last = seq;
    if (!repeat) return this.assemble(slot);
    if (this.piecesInOut) this.keepPieces();
    const out = this.out;
    const nums = base >> 3;
    // A piece already where the last JSON had it is left as it is: only the numbers are new, and
    // most have as many digits as last time, so most pieces stay put (see placed).
    const at = this.placed;
    let o = 0;
    const pieces = this.pieces;
    if (at[0] !== o) o = place(pieces, A_AT, this.aLength, out, o, at, 0);
    else o += this.aLength;
    o = this.number(0, f64[nums]!, o);
    if (at[1] !== o) o = place(pieces, B_AT, this.bLength, out, o, at, 1);
    else o += this.bLength;
    o = this.number(1, f64[nums + 1]!, o);
    if (at[2] !== o) o = place(DURATION, 0, DURATION.length, out, o, at, 2);
    else o += DURATION.length;
    o = this.number(2, f64[nums + 2]!, o);
    if (at[3] !== o) o = place(BYTES, 0, BYTES.length, out, o, at, 3);
    else o += BYTES.length;
    o = this.number(3, f64[nums + 3]!, o);
    if (at[4] !== o) o = place(pieces, E_AT, this.eLength, out, o, at, 4);
    else o += this.eLength;
    o = this.number(4, f64[nums + 4]!, o);
    out[o++] = 0x7d; // }
    return this.view(o);
  }

  /** One view of `out` per length, kept: a new view for every event costs more than the rest together. */
  private view(length: number): Uint8Array {
    return (this.views[length] ??= this.out.subarray(0, length));
  }

  /** Views of `out` by length (see view). */
  private readonly views: Uint8Array[] = [];
  /** Sequence number of the event read last (-1: none yet). */
  private last = -1;
  /**
   * Its JSON up to status (a), from there to render_time_us (b), from tenant_id to ts (e), kept in
   * `pieces` at A_AT, B_AT and E_AT with these lengths; the rest is numbers and constant keys.
   * (Fixed places, not an array per piece: a typed array over 64 bytes costs about a microsecond
   * to allocate.)
   */
  private aLength = 0;
  private bLength = 0;
  private eLength = 0;
  private readonly pieces = new Uint8Array(3 * MAX_EVENT_JSON);

  /**
   * Where in `out` each piece (a, b, DURATION, BYTES, e) was last written, -1 when not there (a
   * number written over it since, or new pieces). Numbers are written between pieces, so a piece
   * at the same offset as last time was not overwritten by them: each number ends where it did.
   */
  private readonly placed = new Int32Array(5).fill(-1);

  /** Likewise for the five numbers: where each was last written, its value, and where it ended. */
  private readonly numberAt = new Int32Array(5).fill(-1);
  private readonly numberWas = new Float64Array(5);
  private readonly numberEnd = new Int32Array(5);

  /** Writes number k (status, render, duration, bytes, ts) at o unless it is there already (a status, a size, a ts in ms repeat). */
  private number(k: number, n: number, o: number): number {
    if (this.numberAt[k] === o && this.numberWas[k] === n) return this.numberEnd[k]!;
    const end = writeNumber(n, this.out, o);
    this.numberAt[k] = o;
    this.numberWas[k] = n;
    this.numberEnd[k] = end;
    return end;
  }

  /**
   * The JSON of the event in `slot` written straight from its bytes into `out`, in one pass: a
   * string stored raw is only quoted, one stored as JSON text is copied as it is. No string is
   * decoded, so an event with strings of its own (every request for a different path, which is
   * what a browser makes) costs byte copies. Where the pieces between the numbers ended up is
   * noted (placed), so that an event repeating these strings next only rewrites numbers.
   */
  private assemble(slot: number): Uint8Array {
    this.numberAt.fill(-1);
    const { i32, f64 } = this.v;
    const base = slot * SLOT_BYTES;
    const nums = base >> 3;
    const strings = i32[(base + HOLDER_AT) >> 2]! * SLOT_BYTES;
    this.codes = (strings + CODES_AT) >> 2;
    this.read = strings + STR_AT;
    const out = this.out;
    const at = this.placed;
    at[0] = 0;
    let o = copy(K_PATH, out, 0);
    o = this.field(F_PATH, o);
    o = copy(K_QUERY, out, o);
    o = this.field(F_QUERY, o);
    o = copy(K_METHOD, out, o);
    o = this.field(F_METHOD, o);
    o = copy(K_STATUS, out, o);
    this.aLength = o;
    o = this.number(0, f64[nums]!, o);
    at[1] = o;
    o = copy(K_CACHE, out, o);
    o = this.field(F_CACHE, o);
    o = copy(K_RENDER, out, o);
    this.bLength = o - at[1];
    o = this.number(1, f64[nums + 1]!, o);
    at[2] = o;
    o = copy(DURATION, out, o);
    o = this.number(2, f64[nums + 2]!, o);
    at[3] = o;
    o = copy(BYTES, out, o);
    o = this.number(3, f64[nums + 3]!, o);
    at[4] = o;
    o = copy(K_TENANT, out, o);
    o = this.field(F_TENANT, o);
    o = copy(K_SITE, out, o);
    o = this.field(F_SITE, o);
    o = copy(K_ENCODING, out, o);
    o = this.field(F_ENCODING, o);
    o = copy(K_IS_BOT, out, o);
    o = copy((i32[(base + FLAGS_AT) >> 2]! & IS_BOT) !== 0 ? TRUE : FALSE, out, o);
    o = copy(K_USER_AGENT, out, o);
    o = this.field(F_UA, o);
    o = copy(K_REFERER, out, o);
    o = this.field(F_REFERER, o);
    o = copy(K_TS, out, o);
    this.eLength = o - at[4];
    o = this.number(4, f64[nums + 4]!, o);
    out[o++] = 0x7d; // }
    this.piecesInOut = true;
    return this.view(o);
  }

  /** Whether the pieces are only in `out`, where assemble() wrote them (not yet in `pieces`). */
  private piecesInOut = false;

  /** Copies the pieces from where assemble() left them in `out` to `pieces`, before `out` is written over. */
  private keepPieces(): void {
    const { out, pieces, placed } = this;
    pieces.set(out.subarray(0, this.aLength), A_AT);
    pieces.set(out.subarray(placed[1]!, placed[1]! + this.bLength), B_AT);
    pieces.set(out.subarray(placed[4]!, placed[4]! + this.eLength), E_AT);
    this.piecesInOut = false;
  }

  /** assemble()'s place in the slot being read: its string codes (an i32 index) and the next string's bytes. */
  private codes = 0;
  private read = 0;

  /** String field k of the slot assemble() reads, as JSON, at o in `out`; where it ends. */
  private field(k: number, o: number): number {
    const code = this.v.i32[this.codes + k]!;
    const p = this.out;
    if (code < 0) return copy(NULL, p, o);
    const n = code >> 1;
    const raw = (code & 1) === 0;
    if (raw) p[o++] = 0x22; // "
    const at = this.read;
    o = copyBytes(this.v.u8, at, n, p, o);
    if (raw) p[o++] = 0x22;
    this.read = at + n;
    return o;
  }

  /**
   * The JSON of the event in `slot` as a string, for the roads that need text (a call sent alone
   * or by message, a failure's input size): the bytes json() makes, decoded. The reader is then
   * where json() would have left it, so a later repeat of these strings reuses what it made.
   */
  text(slot: number): string {
    this.last = this.v.i32[(slot * SLOT_BYTES + SEQ_AT) >> 2]!;
    return UTF8.decode(this.assemble(slot));
  }
}

/**
 * Copies a constant piece of JSON (a key, true, false, null) to `o`; where it ends. Whole arrays
 * need no view, so this is not copyBytes: sharing it measured ~5% slower on the event JSON.
 */
function copy(piece: Uint8Array, out: Uint8Array, o: number): number {
  const n = piece.length;
  if (n > 16) {
    out.set(piece, o);
    return o + n;
  }
  for (let i = 0; i < n; i++) out[o + i] = piece[i]!;
  return o + n;
}

/**
 * Copies n bytes of `from` at `start` to `o` in `out`; where they end. A loop for short runs,
 * set() through a view for long ones (a user agent: ~110–160 ns against ~300 for the loop; for
 * 20 bytes the loop takes ~65 ns, set() 75–155).
 */
function copyBytes(from: Uint8Array, start: number, n: number, out: Uint8Array, o: number): number {
  if (n > 32) out.set(from.subarray(start, start + n), o);
  else for (let i = 0; i < n; i++) out[o + i] = from[start + i]!;
  return o + n;
}

/** Copies n bytes of `from` at `start` to `o`, noting where they went (EventLogReader.placed) as piece p. */
function place(from: Uint8Array, start: number, n: number, out: Uint8Array, o: number, at: Int32Array, p: number): number {
  at[p] = o;
  return copyBytes(from, start, n, out, o);
}

/** A number as JSON.stringify writes it. */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

const UTF8 = new TextDecoder();
const ENCODER = new TextEncoder();
/**
 * A constant piece of JSON as bytes: a plain Uint8Array, like the log's bytes and the kept
 * pieces, so that copyBytes (which DURATION and BYTES go through too) sees one kind of array.
 */
const ascii = (s: string): Uint8Array => ENCODER.encode(s);
const DURATION = ascii(',"duration_us":');
const K_PATH = ascii('{"path":');
const K_QUERY = ascii(',"query":');
const K_METHOD = ascii(',"method":');
const K_STATUS = ascii(',"status":');
const K_CACHE = ascii(',"cache_status":');
const K_RENDER = ascii(',"render_time_us":');
const K_TENANT = ascii(',"tenant_id":');
const K_SITE = ascii(',"site_id":');
const K_ENCODING = ascii(',"encoding":');
const K_IS_BOT = ascii(',"is_bot":');
const K_USER_AGENT = ascii(',"user_agent":');
const K_REFERER = ascii(',"referer":');
const K_TS = ascii(',"ts":');
const TRUE = ascii('true');
const FALSE = ascii('false');
const NULL = ascii('null');
/** Where the pieces a, b and e are kept in EventLogReader.pieces. */
const A_AT = 0;
const B_AT = MAX_EVENT_JSON;
const E_AT = 2 * MAX_EVENT_JSON;
const BYTES = ascii(',"bytes":');

/** A number as String(n) writes it (null when not finite), at `o`; where it ends. */
function writeNumber(n: number, out: Uint8Array, o: number): number {
  if (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n)) {
    // Whole numbers (every field but an odd timing): digits without a string. -0 is "0" too.
    if (n < 1e9) return writeDigits(n | 0, out, o);
    // A timestamp in ms has 13 digits: two runs of int32 arithmetic, where dividing a double by
    // 10 for each digit took a sixth of a plugin worker's time per event.
    let hi = Math.floor(n / 1e9);
    let lo = n - hi * 1e9;
    // The quotient of a double can round up across a whole number; the remainder says so.
    if (lo < 0) {
      hi--;
      lo += 1e9;
    }
    o = writeDigits(hi | 0, out, o);
    return writeNine(lo | 0, out, o);
  }
  const s = num(n);
  for (let i = 0; i < s.length; i++) out[o + i] = s.charCodeAt(i);
  return o + s.length;
}

/** The decimal digits of 0 <= v < 1e9 at `o`; where they end. */
function writeDigits(v: number, out: Uint8Array, o: number): number {
  const digits = v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : 9;
  for (let i = o + digits - 1; i > o; i--) {
    const q = (v / 10) | 0;
    out[i] = 0x30 + (v - q * 10);
    v = q;
  }
  out[o] = 0x30 + v;
  return o + digits;
}

/** 0 <= v < 1e9 as exactly nine digits (leading zeros) at `o`; where they end. */
function writeNine(v: number, out: Uint8Array, o: number): number {
  for (let i = o + 8; i >= o; i--) {
    const q = (v / 10) | 0;
    out[i] = 0x30 + (v - q * 10);
    v = q;
  }
  return o + 9;
}

/** The main thread's end: writes events, counts who still needs each slot. */
export class EventLog extends EventLogReader {
  private readonly w: Views;
  /** Per slot: how many queues (and held lists) still hold its event, or an event pointing at its strings. */
  private readonly refs = new Int32Array(EVENT_SLOTS);
  /** Per slot: the slot holding its event's strings (its own when it holds them). */
  private readonly holderOf = new Int32Array(EVENT_SLOTS);
  private next = 0;
  /** Sequence number of the last event that wrote its strings (-1: none usable). */
  private holder = -1;

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
    // The holder is not reused while an event pointing at it is held, and it is at most half a
    // ring old when pointed at: a plugin less than half a ring behind never holds it at wrap-around.
    const same = this.repeats(e) && this.holder >= 0 && ((seq - this.holder) & SEQ_MASK) < EVENT_SLOTS / 2;
    if (same) {
      this.holderOf[slot] = this.holder & SLOT_MASK;
    } else {
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
      if (at < 0) {
        this.prev = null;
        this.holder = -1;
        return -1;
      }
      this.holder = seq;
      this.holderOf[slot] = slot;
    }
    const nums = base >> 3;
    f64[nums] = e.status;
    f64[nums + 1] = e.renderUs;
    f64[nums + 2] = e.durationUs;
    f64[nums + 3] = e.bytes;
    f64[nums + 4] = e.ts;
    i32[(base + FLAGS_AT) >> 2] = (e.isBot ? IS_BOT : 0) | (same ? SAME : 0);
    i32[(base + SEQ_AT) >> 2] = seq;
    i32[(base + HOLDER_AT) >> 2] = this.holderOf[slot]!;
    this.next = (seq + 1) & SEQ_MASK;
    return seq;
  }

  /** The strings of the event appended last (null: none, or it did not fit). */
  private prev: EventFields | null = null;

  /** Whether `e` has the strings of the event appended before it (and notes them for the next). */
  private repeats(e: EventFields): boolean {
    let p = this.prev;
    const same =
      p !== null &&
      p.path === e.path &&
      p.query === e.query &&
      p.method === e.method &&
      p.cacheStatus === e.cacheStatus &&
      p.tenantId === e.tenantId &&
      p.siteId === e.siteId &&
      p.encoding === e.encoding &&
      p.isBot === e.isBot &&
      p.userAgent === e.userAgent &&
      p.referer === e.referer;
    if (!same) {
      // A copy: the caller may reuse its fields object.
      p = this.prev ??= { ...e };
      p.path = e.path;
      p.query = e.query;
      p.method = e.method;
      p.cacheStatus = e.cacheStatus;
      p.tenantId = e.tenantId;
      p.siteId = e.siteId;
      p.encoding = e.encoding;
      p.isBot = e.isBot;
      p.userAgent = e.userAgent;
      p.referer = e.referer;
    }
    return same;
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
    if (n <= SHORT) {
      // Short ASCII strings (method, cache status, encoding, most paths) are copied unit by
      // unit, which costs less than a call into Buffer's encoder.
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80 || c < 0x20 || c === 0x22 || c === 0x5c) break;
        bytes[at + i] = c;
      }
      if (i === n) {
        i32[code] = n << 1;
        return at + n;
      }
    }
    // A string JSON.stringify escapes something in is stored as that JSON text: escaping is
    // rare, and the reader then only quotes.
    const text = NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : s;
    if (at + 3 * text.length > end && at + Buffer.byteLength(text) > end) return -1;
    const written = bytes.write(text, at, end - at, 'utf8');
    i32[code] = text === s ? written << 1 : (written << 1) | 1;
    return at + written;
  }

  /** `n` more queues hold event `seq` (each lets go of it with release). */
  retain(seq: number, n: number): void {
    const slot = seq & SLOT_MASK;
    this.refs[slot]! += n;
    const holder = this.holderOf[slot]!;
    if (holder !== slot) this.refs[holder]! += n;
  }

  release(seq: number): void {
    const slot = seq & SLOT_MASK;
    if (this.refs[slot]! > 0) this.refs[slot]!--;
    const holder = this.holderOf[slot]!;
    if (holder !== slot && this.refs[holder]! > 0) this.refs[holder]!--;
  }

  /** The event's JSON as a string (for the paths that need one: a call sent alone or by message, a failure's input size). */
  jsonText(seq: number): string {
    return this.text(seq & SLOT_MASK);
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
