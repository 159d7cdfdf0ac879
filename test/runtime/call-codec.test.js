// The byte layout batches of hook calls cross threads in (src/runtime/call-codec.ts): what goes
// in comes out, byte for byte, for every hook shape, empty and large strings, any Unicode
// (including lone surrogates, which UTF-8 encoding turns into U+FFFD as before), and full batches;
// a batch takes the calls that fit, from the first, each whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCalls, hookStrings, readCalls } from '../../dist/runtime/call-codec.js';
import { MAX_BATCH } from '../../dist/runtime/batch-progress.js';
import { CHANNEL_BYTES } from '../../dist/runtime/call-channel.js';

/** An 8-byte-aligned area of `bytes`, as the channel's data area is. */
const area = (bytes) => new Uint8Array(new SharedArrayBuffer(bytes + 8), 8, bytes);

/** What the guest would receive for one call: its strings as text, in ABI order, and its tail. */
function expected(args, budget) {
  const { strings } = hookStrings(args);
  return { hook: args.hook, budget, strings: strings.map((s) => Buffer.from(s, 'utf8').toString('hex')), tail: args.hook === 'on_cache_invalidate' ? [args.count | 0] : [] };
}

function roundTrip(list, budgets = list.map((_, i) => 1000 + i), size = CHANNEL_BYTES - 128) {
  const a = area(size);
  assert.equal(encodeCalls(list, budgets, a), list.length, 'every call fits');
  const reader = readCalls(a, list.length);
  const got = [];
  for (let k = 0; k < list.length; k++) {
    const c = reader.next();
    got.push({ hook: c.hook, budget: c.budget, strings: c.strings.map((s) => Buffer.from(s).toString('hex')), tail: c.tail });
  }
  assert.deepEqual(got, list.map((args, i) => expected(args, budgets[i])));
  assert.throws(() => reader.next(), /read from a batch of/);
}

test('every hook shape round-trips, with its budget and trailing count', () => {
  roundTrip([
    { hook: 'on_request_complete', eventJson: '{"path":"/","status":200}' },
    { hook: 'on_cache_write', key: 'page:/blog', tagsJson: '["blog","home"]' },
    { hook: 'on_cache_invalidate', pattern: 'page:/blog/*', count: 7 },
    { hook: 'on_cache_invalidate', pattern: 'x', count: -3 },
    { hook: 'on_cache_invalidate', pattern: 'x', count: 2 ** 31 - 1 },
    { hook: 'on_server_start', configJson: '{"endpoint":"https://a.example"}' },
    { hook: 'on_reload' },
    { hook: 'on_server_stop' },
    { hook: 'cleanup' },
  ], [1, 0, 2 ** 53 - 1, 5, 6, 500_000_000, 7, 8, 9]);
});

test('empty strings, and a batch of calls with no strings at all', () => {
  roundTrip([
    { hook: 'on_request_complete', eventJson: '' },
    { hook: 'on_cache_write', key: '', tagsJson: '' },
    { hook: 'on_cache_write', key: 'k', tagsJson: '' },
    { hook: 'on_cache_write', key: '', tagsJson: '[]' },
  ]);
  roundTrip([{ hook: 'cleanup' }, { hook: 'on_reload' }]);
  // A call without strings takes 24 bytes: 170 of them fill 4096.
  assert.equal(encodeCalls(Array.from({ length: 200 }, () => ({ hook: 'cleanup' })), new Array(200).fill(1), area(4096)), 170);
});

test('Unicode is passed as UTF-8, byte for byte as TextEncoder writes it', () => {
  roundTrip([
    { hook: 'on_request_complete', eventJson: '{"path":"/é✓😀","q":"日本語"}' },
    { hook: 'on_cache_write', key: 'ключ', tagsJson: '["🏳️‍🌈","\u0000"]' },
    // Lone surrogates: TextEncoder writes U+FFFD (3 bytes) for each, as the message path does.
    { hook: 'on_request_complete', eventJson: 'a\ud800b\udc00c\ud83d' },
    { hook: 'on_cache_invalidate', pattern: '\u{10ffff}', count: 1 },
  ]);
});

test('large strings fill the area exactly; one byte more does not fit; a batch takes the calls that fit', () => {
  const size = 4096;
  const head = 24;
  // ASCII, multibyte and 4-byte text each filling the area to its last byte.
  for (const unit of ['x', 'é', '✓', '😀']) {
    const bytes = Buffer.byteLength(unit);
    const fill = unit.repeat(Math.floor((size - head) / bytes));
    const pad = 'p'.repeat(size - head - Buffer.byteLength(fill));
    roundTrip([{ hook: 'on_cache_write', key: fill, tagsJson: pad }], [1], size);
    assert.equal(encodeCalls([{ hook: 'on_cache_write', key: fill, tagsJson: pad + 'p' }], [1], area(size)), 0, `${unit}: one byte over`);
    assert.equal(encodeCalls([{ hook: 'on_cache_write', key: pad + 'p', tagsJson: fill }], [1], area(size)), 0, `${unit}: the second string one byte over`);
  }
  // Calls after one that does not fit are not written, even if they would.
  const list = [{ hook: 'on_request_complete', eventJson: 'a' }, { hook: 'on_request_complete', eventJson: 'b'.repeat(size) }, { hook: 'cleanup' }];
  const a = area(size);
  assert.equal(encodeCalls(list, [1, 2, 3], a), 1);
  const first = readCalls(a, 1).next();
  assert.deepEqual([first.hook, first.budget, Buffer.from(first.strings[0]).toString()], ['on_request_complete', 1, 'a']);
  // Records are 8-byte aligned: 24 + 1 byte takes 32, so the next call's string may use 4096 - 32 - 24.
  assert.equal(encodeCalls([list[0], { hook: 'on_request_complete', eventJson: 'c'.repeat(size - 56) }], [1, 2], area(size)), 2);
  assert.equal(encodeCalls([list[0], { hook: 'on_request_complete', eventJson: 'c'.repeat(size - 55) }], [1, 2], area(size)), 1);
});

test('a full batch (MAX_BATCH) of typical request events round-trips, each with its own arguments, in order', () => {
  const list = Array.from({ length: MAX_BATCH }, (_, i) => ({
    hook: 'on_request_complete',
    eventJson: JSON.stringify({ path: `/p/${i}/${'é'.repeat(i % 5)}`, method: 'GET', status: 200 + (i % 3), cache_status: 'MISS', render_time_us: i * 17, pad: 'x'.repeat(150) }),
  }));
  roundTrip(list, undefined, 1 << 20);
  // Mixed hooks in one batch keep their order too.
  const mixed = Array.from({ length: MAX_BATCH }, (_, i) => (i % 3 === 0 ? { hook: 'on_cache_write', key: `k${i}`, tagsJson: `["t${i}"]` } : i % 3 === 1 ? { hook: 'on_cache_invalidate', pattern: `p${i}*`, count: i } : { hook: 'on_reload' }));
  roundTrip(mixed, undefined, 1 << 20);
  // The channel's own area takes as many as fit, the first ones.
  const fit = encodeCalls(list, list.map(() => 1), area(CHANNEL_BYTES - 128));
  assert.ok(fit > 100 && fit <= list.length, `${fit} calls of about 250 bytes fit`);
});

test('a full batch (MAX_BATCH) of logged events crosses the channel in one post, in runs or one by one', () => {
  // A saturated server's pump hands a plugin up to MAX_BATCH events at once; each post wakes the
  // worker, so the whole batch must fit the channel's area, even with no two events in a row.
  const channelArea = () => area(CHANNEL_BYTES - 128);
  const consecutive = Array.from({ length: MAX_BATCH }, (_, i) => 5000 + i);
  assert.equal(encodeCalls(consecutive, consecutive.map(() => 7), channelArea()), MAX_BATCH);
  const scattered = Array.from({ length: MAX_BATCH }, (_, i) => 2 * i);
  assert.equal(encodeCalls(scattered, scattered.map(() => 7), channelArea()), MAX_BATCH);
});

test('a damaged area is refused with the call that is wrong, not read past its end', () => {
  const a = area(256);
  assert.equal(encodeCalls([{ hook: 'on_request_complete', eventJson: 'hello' }], [1], a), 1);
  const head = new Int32Array(a.buffer, a.byteOffset + 8, 4);
  head[1] = 1_000_000;
  assert.throws(() => readCalls(a, 1).next(), /call 0 of a batch has string 0 of 1000000 bytes/);
  head[0] = 99;
  assert.throws(() => readCalls(a, 1).next(), /unknown hook index 99/);
  // More calls than were written: the reader stops at the end of the area.
  assert.throws(() => { const r = readCalls(area(24), 2); r.next(); r.next(); }, /call 1 of a batch starts at 24, past the area of 24/);
});
