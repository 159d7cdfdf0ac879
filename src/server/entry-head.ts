/**
 * The response head of a cached entry, built once when the entry is stored: the flat
 * `[name, value, ...]` list `res.writeHead()` takes, for the full response and for a 304. Only
 * `Age` and `X-Bext-Cache` differ between responses; their values are written into the lists'
 * slots just before each writeHead (which reads the list at once), so a HIT copies no headers.
 *
 * The lists hold exactly what `{ ...headers, age, 'x-bext-cache': status }` holds, in the same
 * order (a stored `age` or `x-bext-cache` keeps its place and takes the new value), and the 304
 * list the same without Content-Length and Content-Type.
 */
import { one } from './headers.js';
import type { CacheStatus, HeaderMap } from './types.js';

export type HeadList = (string | string[])[];

export interface EntryHead {
  /** The full response's head. */
  readonly full: HeadList;
  /** A 304's head. */
  readonly notModified: HeadList;
  /** Where the Age and X-Bext-Cache values sit in `full` / `notModified`. */
  readonly fullSlots: Slots;
  readonly notModifiedSlots: Slots;
  /** The entry's ETag (first value), for If-None-Match. */
  readonly etag: string | undefined;
  /** Its Content-Encoding (first value), for Accept-Encoding. */
  readonly encoding: string | undefined;
  /** The last Age written and its text: requests within the same second reuse the string. */
  age: number;
  ageText: string;
}

interface Slots {
  age: number;
  status: number;
}

function flatten(headers: HeaderMap): { list: HeadList; slots: Slots } {
  const list: HeadList = [];
  const slots: Slots = { age: -1, status: -1 };
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'age') slots.age = list.length + 1;
    else if (name === 'x-bext-cache') slots.status = list.length + 1;
    list.push(name, value);
  }
  return { list, slots };
}

export function buildEntryHead(headers: HeaderMap): EntryHead {
  const sent: HeaderMap = { ...headers, age: '0', 'x-bext-cache': 'HIT' };
  const full = flatten(sent);
  delete sent['content-length'];
  delete sent['content-type'];
  const notModified = flatten(sent);
  return {
    full: full.list,
    notModified: notModified.list,
    fullSlots: full.slots,
    notModifiedSlots: notModified.slots,
    etag: one(headers.etag),
    encoding: one(headers['content-encoding']),
    age: 0,
    ageText: '0',
  };
}

/**
 * The head to send now: `age` seconds since the entry was stored, `status` HIT or STALE. The
 * returned list is the entry's own, valid until the next call for the same entry.
 */
export function sendableHead(head: EntryHead, notModified: boolean, age: number, status: CacheStatus): HeadList {
  if (age !== head.age) {
    head.age = age;
    head.ageText = String(age);
  }
  const list = notModified ? head.notModified : head.full;
  const slots = notModified ? head.notModifiedSlots : head.fullSlots;
  list[slots.age] = head.ageText;
  list[slots.status] = status;
  return list;
}

/** A copy of `list` that asks the client to close the connection (shutdown has begun). */
export function withConnectionClose(list: HeadList): HeadList {
  const out = list.slice();
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === 'connection') {
      out[i + 1] = 'close';
      return out;
    }
  }
  out.push('connection', 'close');
  return out;
}
