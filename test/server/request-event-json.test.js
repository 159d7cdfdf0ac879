// The request event's JSON (what on_request_complete receives) is written by a serializer of its
// own for speed; it must be exactly what JSON.stringify writes for the same event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventFields, eventJson, eventOf } from '../../dist/server/request-event.js';
import { cases } from '../helpers/request-events.js';

test('eventJson writes the same bytes as JSON.stringify', () => {
  // eventFields reuses one object: each event is copied out at once.
  const events = cases.map((c) => eventOf(eventFields(...c)));
  for (const e of events) assert.equal(eventJson(e), JSON.stringify(e));
});
