// What a plugin worker pays to make an on_request_complete event's JSON from the event log
// (runtime/event-log.ts), against the reference of serializing the event object with
// JSON.stringify and encoding it to UTF-8, measured in the same process, rounds alternating:
//   - varied: every event has a path of its own (a browser loading a page's assets)
//   - repeated: one URL hammered (a load generator), where the reader only rewrites numbers
// Each figure is the best of its rounds, in µs per event; the ratio is log ÷ reference.
//
//   node bench/event-log.bench.js [--rounds 15] [--events 4000]
// BENCH_REF_DIST=<another build's dist/> measures that build's event log instead (before/after).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const dist = process.env.BENCH_REF_DIST ?? path.join(ROOT, 'dist');
const { EventLog, EventLogReader, slotOf } = await import(path.join(dist, 'runtime/event-log.js'));
const { eventOf } = await import(path.join(ROOT, 'dist/server/request-event.js'));

const rounds = arg('--rounds', 15);
const events = arg('--events', 4000);
const base = {
  path: '/index.html',
  query: '',
  method: 'GET',
  status: 200,
  cacheStatus: 'HIT',
  renderUs: 12,
  durationUs: 345,
  bytes: 1300,
  tenantId: null,
  siteId: null,
  encoding: 'identity',
  isBot: false,
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  referer: 'http://127.0.0.1:3000/',
  ts: 1764541234567,
};
const paths = Array.from({ length: 64 }, (_, i) => `/assets/chunk-${i}.js`);
const fieldsAt = (varied, i) => ({ ...base, path: varied ? paths[i & 63] : base.path, durationUs: 300 + (i % 50), ts: base.ts + i });

const now = () => process.hrtime.bigint();
const log = new EventLog();
const reader = new EventLogReader(log.buffer);

/** µs per event: the reader making each event's JSON from its slot. */
function fromLog(varied) {
  const slots = [];
  for (let i = 0; i < events; i++) slots.push(slotOf(log.append(fieldsAt(varied, i))));
  let sink = 0;
  const t = now();
  for (const s of slots) sink += reader.json(s).length;
  if (sink === 0) throw new Error('no JSON made');
  return Number(now() - t) / events / 1000;
}

/** µs per event: JSON.stringify of the event object, then its UTF-8 bytes. */
function fromObject(varied) {
  const objects = [];
  for (let i = 0; i < events; i++) objects.push(eventOf(fieldsAt(varied, i)));
  const out = new Uint8Array(1024);
  const encoder = new TextEncoder();
  let sink = 0;
  const t = now();
  for (const e of objects) sink += encoder.encodeInto(JSON.stringify(e), out).written;
  if (sink === 0) throw new Error('no JSON made');
  return Number(now() - t) / events / 1000;
}

// The two readings must agree before their speed means anything.
for (const varied of [true, false]) {
  for (let i = 0; i < 200; i++) {
    const f = fieldsAt(varied, i);
    const json = Buffer.from(reader.json(slotOf(log.append(f)))).toString();
    if (json !== JSON.stringify(eventOf(f))) throw new Error(`event log JSON differs from JSON.stringify:\n${json}`);
  }
}

console.log(`event JSON in a plugin worker: best of ${rounds} alternating rounds of ${events} events, µs per event`);
console.log(`${'events'.padEnd(28)}${'event log'.padStart(10)}${'JSON.stringify'.padStart(16)}${'ratio'.padStart(8)}`);
for (const [name, varied] of [
  ['varied (a path each)', true],
  ['repeated (one URL)', false],
]) {
  let log = Infinity;
  let ref = Infinity;
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      log = Math.min(log, fromLog(varied));
      ref = Math.min(ref, fromObject(varied));
    } else {
      ref = Math.min(ref, fromObject(varied));
      log = Math.min(log, fromLog(varied));
    }
  }
  console.log(`${name.padEnd(28)}${log.toFixed(2).padStart(10)}${ref.toFixed(2).padStart(16)}${(log / ref).toFixed(2).padStart(7)}x`);
}
