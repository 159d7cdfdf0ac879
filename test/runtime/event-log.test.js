// The request event log: the main thread writes an event's raw fields once, and every plugin
// worker makes the event's JSON from them. That JSON must be what JSON.stringify writes for the
// event object, byte for byte (docs/abi.md), for any string a request or a config can carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, EventLogReader, EVENT_SLOTS, eventLog, slotOf } from '../../dist/runtime/event-log.js';
import { eventFields, eventOf, isBot } from '../../dist/server/request-event.js';
import { data, load, LOG_IMPORT, mod } from './helpers.js';
import { cases, noIds, request, timing } from '../helpers/request-events.js';

/** A header as req.headers has it: trimmed, null when absent or blank. */
function header(req, name) {
  const v = req.headers[name];
  if (v === undefined) return null;
  return v.trim() === '' ? null : v.trim();
}

/** The event as read from req.headers: the reference eventFields (which reads rawHeaders) must match. */
function eventFromHeaders(req, rawPath, search, status, cacheStatus, encoding, t, ids) {
  const ua = header(req, 'user-agent') ?? '';
  return {
    path: rawPath,
    query: search.startsWith('?') ? search.slice(1) : search,
    method: req.method ?? 'GET',
    status,
    cache_status: cacheStatus,
    render_time_us: t.renderUs,
    duration_us: t.durationUs,
    bytes: t.bytes,
    tenant_id: header(req, 'x-bext-tenant') ?? ids.tenant_id,
    site_id: header(req, 'x-bext-site') ?? ids.site_id,
    encoding: encoding && encoding.trim() !== '' ? encoding.trim().toLowerCase() : 'identity',
    is_bot: isBot(ua),
    user_agent: ua,
    referer: header(req, 'referer'),
    ts: t.ts,
  };
}


test('an event read back from the log is the JSON.stringify of the event, byte for byte', () => {
  const log = new EventLog();
  const reader = new EventLogReader(log.buffer);
  for (const c of cases) {
    const fields = eventFields(...c);
    const event = eventOf(fields);
    // The fields from rawHeaders are the ones req.headers gives.
    assert.deepEqual(event, eventFromHeaders(...c));
    const seq = log.append(fields);
    assert.ok(seq >= 0);
    const expected = Buffer.from(JSON.stringify(event));
    assert.deepEqual(Buffer.from(reader.json(slotOf(seq))), expected, JSON.stringify(event));
    assert.equal(log.jsonText(seq), JSON.stringify(event));
  }
});

test('events that repeat the strings of the one before differ only in their numbers, as JSON.stringify writes them', () => {
  const log = new EventLog();
  const reader = new EventLogReader(log.buffer);
  const numbers = [
    { ts: 1764541234567, renderUs: 0, durationUs: 9, bytes: 1 },
    { ts: 2 ** 53 - 1, renderUs: 123456789, durationUs: 2 ** 31, bytes: 10 },
    { ts: 1e21, renderUs: -5, durationUs: 0.25, bytes: NaN },
    // Either side of each power of ten up to 1e15, and of 1e9 (where whole numbers split in two).
    ...Array.from({ length: 15 }, (_, k) => ({ ts: 10 ** (k + 1), renderUs: 10 ** (k + 1) - 1, durationUs: 10 ** k + 1, bytes: 10 ** k })),
    { ts: 1e9 * 9007199 - 1, renderUs: 999_999_999, durationUs: 1_000_000_001, bytes: 2 ** 53 - 2 },
    { ts: 1e9 * 1764541 + 7, renderUs: 2 ** 32 + 5, durationUs: 1e9 * 5 + 999_999_999, bytes: -0 },
  ];
  // Each case several times in a row (the reader reuses what it made of the strings), then the next.
  for (const c of [...cases, cases[0], cases[2], cases[0]]) {
    for (const timing of numbers) {
      const args = [...c];
      args[6] = timing;
      args[3] = 200 + Math.round(timing.durationUs) % 300;
      const fields = eventFields(...args);
      const seq = log.append(fields);
      assert.deepEqual(Buffer.from(reader.json(slotOf(seq))), Buffer.from(JSON.stringify(eventOf(fields))));
    }
  }
});

test('in a long run of repeated strings, numbers growing and shrinking in every combination leave no stale byte', () => {
  const log = new EventLog();
  const reader = new EventLogReader(log.buffer);
  // Each number is 1, 3 or 5 digits long (status too), in every order over consecutive events:
  // pieces of JSON between them stay in place or move, and each event must still be exact.
  const widths = [7, 345, 98765];
  for (let i = 0; i < 3 ** 5 * 2; i++) {
    const w = (k) => widths[Math.floor(i / 3 ** k) % 3];
    const args = [...cases[1]];
    args[3] = w(0);
    args[6] = { renderUs: w(1), durationUs: w(2), bytes: w(3), ts: w(4) };
    const fields = eventFields(...args);
    const seq = log.append(fields);
    assert.equal(Buffer.from(reader.json(slotOf(seq))).toString(), JSON.stringify(eventOf(fields)), `event ${i}`);
    log.release(seq);
  }
});

test('events with strings of their own and runs of repeats, mixed at random with numbers of every width, each read exactly, as bytes or as text', () => {
  const log = new EventLog();
  const reader = new EventLogReader(log.buffer);
  // A small LCG: the same sequence every run, so a failure names an event that can be replayed.
  let state = 12345;
  const rand = (n) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
  const widths = [0, 7, 345, 98765, 1764541234567];
  for (let i = 0; i < 3000; i++) {
    // Mostly a run of one path (repeats), now and then another path or another whole case.
    const args = [...cases[rand(10) < 8 ? 0 : rand(cases.length)]];
    if (rand(4) === 0) args[1] = `/page/${rand(3)}`;
    args[3] = widths[rand(4)];
    args[6] = { renderUs: widths[rand(5)], durationUs: widths[rand(5)], bytes: widths[rand(5)], ts: widths[rand(5)] };
    const fields = eventFields(...args);
    const seq = log.append(fields);
    // Now and then as text, which leaves the reader where json() would.
    const json = rand(5) === 0 ? reader.text(slotOf(seq)) : Buffer.from(reader.json(slotOf(seq))).toString();
    assert.equal(json, JSON.stringify(eventOf(fields)), `event ${i}`);
  }
});

test('a reader that skipped events, or reads them out of order, still gets each one right', () => {
  const log = new EventLog();
  const reader = new EventLogReader(log.buffer);
  const made = [];
  // Runs of repeated strings (each marked as repeating the one before), then a change.
  for (const c of [cases[0], cases[0], cases[0], cases[2], cases[2], cases[0], cases[0]]) {
    const fields = eventFields(...c);
    made.push([log.append(fields), JSON.stringify(eventOf(fields))]);
  }
  for (const k of [2, 0, 1, 4, 6, 5, 3, 3]) assert.equal(Buffer.from(reader.json(slotOf(made[k][0]))).toString(), made[k][1], `event ${k}`);
  // Read as text in between: the event right after the one read before (a repeat of it) is still right.
  assert.equal(Buffer.from(reader.json(slotOf(made[0][0]))).toString(), made[0][1]);
  assert.equal(reader.text(slotOf(made[3][0])), made[3][1]);
  assert.equal(Buffer.from(reader.json(slotOf(made[1][0]))).toString(), made[1][1]);
});

test('a slot still held is not written over, and an event too big for a slot is refused', () => {
  const log = new EventLog();
  const fields = eventFields(...cases[0]);
  const first = log.append(fields);
  log.retain(first, 2);
  for (let i = 1; i < EVENT_SLOTS; i++) assert.ok(log.append(fields) >= 0);
  // The ring came round to the slot two queues still hold.
  assert.equal(log.append(fields), -1);
  log.release(first);
  assert.equal(log.append(fields), -1);
  log.release(first);
  assert.ok(log.append(fields) >= 0);
  const big = eventFields(request(['User-Agent', 'x'.repeat(600)]), '/', '', 200, 'HIT', undefined, timing, noIds);
  assert.equal(log.append(big), -1);
  // Multi-byte characters are counted as their UTF-8 bytes.
  const wide = eventFields(request(['User-Agent', '\u00e9'.repeat(250)]), '/', '', 200, 'HIT', undefined, timing, noIds);
  assert.equal(log.append(wide), -1);
});

test('an event that repeats the strings of the one before keeps the slot holding them, which is never over half a ring old', () => {
  const log = new EventLog();
  const fields = eventFields(...cases[0]);
  const expected = (seq) => JSON.stringify({ ...eventOf(fields), ts: seq });
  const appendAt = (seq) => log.append({ ...fields, ts: seq });
  const holder = appendAt(0);
  const repeat = appendAt(1);
  log.retain(holder, 1);
  log.retain(repeat, 1);
  // The holder's own event is done with; the repeat still needs its strings.
  log.release(holder);
  for (let i = 2; i < EVENT_SLOTS; i++) assert.ok(appendAt(i) >= 0);
  assert.equal(log.append(fields), -1, "the holder's slot is not written over while an event pointing at it is held");
  // Read after the ring came round, and with no event read just before it.
  assert.equal(Buffer.from(new EventLogReader(log.buffer).json(slotOf(repeat))).toString(), expected(1));
  log.release(repeat);
  assert.ok(log.append(fields) >= 0);

  // Only the last event of a full ring is held: it points at a holder written after the first
  // half of the ring, so the ring moves on past the first slots.
  const fresh = new EventLog();
  let last = -1;
  for (let i = 0; i < EVENT_SLOTS; i++) last = fresh.append({ ...fields, ts: i });
  fresh.retain(last, 1);
  for (let i = 0; i < EVENT_SLOTS / 2; i++) assert.ok(fresh.append({ ...fields, ts: EVENT_SLOTS + i }) >= 0, `event ${EVENT_SLOTS + i}`);
  assert.equal(Buffer.from(new EventLogReader(fresh.buffer).json(slotOf(last))).toString(), JSON.stringify({ ...eventOf(fields), ts: EVENT_SLOTS - 1 }));
});

// Through a plugin's worker: queued events given by their place in the log reach the guest as the
// same JSON bytes, with the same fuel and outcomes as events given as JSON text, in order.

// on_request_complete logs the event it got, then fails with code 7 when it is longer than 300 bytes.
const ECHO = mod(
  `${data(16, 'info')}
  (func (export "on_request_complete") (param $p i32) (param $n i32) (result i32)
    (call $log (i32.const 16) (i32.const 4) (local.get $p) (local.get $n))
    (if (i32.gt_u (local.get $n) (i32.const 300)) (then (return (i32.const 7))))
    (i32.const 0))`,
  { imports: LOG_IMPORT },
);

test('a plugin handed events by their place in the log gets their JSON, as one handed the JSON text', async () => {
  const { handle, logs } = await load(ECHO, {}, { onTally: () => {} });
  try {
    const log = eventLog();
    const list = [];
    const events = [];
    for (const [k, c] of [cases[0], cases[2], cases[0], cases[3], cases[1]].entries()) {
      const fields = eventFields(...c);
      const seq = log.append(fields);
      assert.ok(seq >= 0);
      log.retain(seq, 1);
      list.push(seq);
      events.push(JSON.stringify(eventOf(fields)));
      // A call given as arguments in the middle of a run of logged events keeps its place.
      if (k === 1) {
        list.push({ hook: 'on_cache_write', key: 'k', tagsJson: '[]' });
        events.push(null);
      }
    }
    const logged = await handle.callQueued(list);
    const seen = logs.filter((l) => l.source === 'guest').map((l) => l.msg);
    assert.deepEqual(seen, events.filter((e) => e !== null));
    const asText = await handle.callQueued(events.map((e) => (e === null ? { hook: 'on_cache_write', key: 'k', tagsJson: '[]' } : { hook: 'on_request_complete', eventJson: e })));
    assert.equal(logged.ran, list.length);
    // Long events fail with the guest's error code; the reports match call for call.
    const outcome = (run) => run.results.map((r) => [r.index, r.result.outcome, r.result.fuelUsed]);
    assert.ok(logged.results.some((r) => r.result.outcome === 'error'));
    assert.deepEqual(outcome(logged), outcome(asText));
    for (const seq of list) if (typeof seq === 'number') log.release(seq);
  } finally {
    await handle.close();
  }
});
