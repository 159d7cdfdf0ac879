// The pieces of plugin output that need no process: the terminal line format, colour choice,
// the per-plugin line limit, one warning per cause, and the status line the next log line clears.
import test from 'node:test';
import assert from 'node:assert/strict';
import { prettyLine, escapeControl } from '../../dist/log/pretty.js';
import { createLineLimiter, suppressedMessage } from '../../dist/log/line-limit.js';
import { createCauseLog } from '../../dist/log/cause-log.js';
import { createSink } from '../../dist/log/sink.js';
import { wantsColour } from '../../dist/log.js';
import { createLogBatcher } from '../../dist/runtime/log-batch.js';

const at = (h, m, s) => new Date(2026, 0, 2, h, m, s).toISOString();

const ESC = '\x1b';

test('a plugin line is time, padded name, level, message on one line', () => {
  const rec = { level: 30, time: at(12, 1, 3), plugin: 'my-analytics', source: 'guest', msg: 'Analytics endpoint: https://a.example/ingest' };
  assert.equal(prettyLine(rec, { colour: false, nameWidth: 12 }), '12:01:03 my-analytics  info  Analytics endpoint: https://a.example/ingest\n');
  assert.equal(prettyLine({ ...rec, plugin: 'bot', level: 50, msg: 'boom' }, { colour: false, nameWidth: 12 }), '12:01:03 bot           error boom\n');
  // bext's own lines use the same columns; other fields follow as key=value.
  assert.equal(
    prettyLine({ level: 40, time: at(9, 0, 0), msg: 'http_fetch refused', plugin: 'p', url: 'https://x/', reason: 'not allowed' }, { colour: false, nameWidth: 4 }),
    '09:00:00 p     warn  http_fetch refused url=https://x/ reason="not allowed"\n',
  );
  assert.equal(prettyLine({ level: 30, time: at(9, 0, 0), msg: 'ready' }, { colour: false, nameWidth: 6 }), '09:00:00 bext    info  ready\n');
  assert.equal(prettyLine({ level: 20, time: at(9, 0, 0), plugin: 'p', source: 'stdout', msg: 'no newline' }, { colour: false, nameWidth: 1 }), '09:00:00 p  debug stdout no newline\n');
});

test('control characters cannot break the line or reach the terminal', () => {
  assert.equal(escapeControl('a\nb\r\x1b[31m\x00\tc'), 'a\\nb\\r\\x1b[31m\\x00\tc');
  const line = prettyLine({ level: 30, time: at(1, 2, 3), plugin: 'p', msg: 'x\ny\x1b[2J' }, { colour: true, nameWidth: 1 });
  assert.equal(line.split('\n').length, 2, 'one line');
  assert.ok(line.includes('x\\ny\\x1b[2J'));
});

test('colour: level and columns coloured; NO_COLOR wins; FORCE_COLOR colours a pipe', () => {
  const rec = { level: 40, time: at(12, 0, 0), plugin: 'p', msg: 'm' };
  assert.match(prettyLine(rec, { colour: true, nameWidth: 1 }), new RegExp(`${ESC}\\[33mwarn `));
  assert.ok(!prettyLine(rec, { colour: false, nameWidth: 1 }).includes('\x1b'));
  assert.equal(wantsColour(true, {}), true);
  assert.equal(wantsColour(false, {}), false);
  assert.equal(wantsColour(true, { NO_COLOR: '1' }), false);
  assert.equal(wantsColour(true, { NO_COLOR: '' }), true, 'an empty NO_COLOR is not set (no-color.org)');
  assert.equal(wantsColour(false, { FORCE_COLOR: '1' }), true);
  assert.equal(wantsColour(false, { FORCE_COLOR: '0' }), false);
  assert.equal(wantsColour(false, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
});

test('line limit: a burst, then a steady rate; the rest counted and reported once per interval', () => {
  const limits = { burst: 3, perSecond: 2, summaryEveryMs: 5000 };
  const l = createLineLimiter(limits, 0);
  const admitted = Array.from({ length: 10 }, () => l.admit(0)).filter(Boolean).length;
  assert.equal(admitted, 3);
  assert.deepEqual(l.summary(0), { count: 7, overMs: 0 }, 'the first summary is reported at once');
  assert.equal(l.admit(1000), true, 'refilled at 2 a second');
  assert.equal(l.admit(1000), true);
  assert.equal(l.admit(1000), false);
  assert.equal(l.summary(1000), null, 'not again within the interval');
  assert.deepEqual(l.summary(5000), { count: 1, overMs: 4000 });
  assert.equal(l.summary(20000), null, 'nothing pending');
  assert.equal(suppressedMessage({ count: 19500, overMs: 2100 }, limits), '19,500 log lines suppressed in 2.1 s (limit: 3 at once, then 2 a second)');
});

test('one line per cause: the first at once, repeats counted and written with the count', () => {
  let now = 0;
  const out = [];
  const causes = createCauseLog((o, repeats) => out.push([o, repeats]), { windowMs: 1000, maxCauses: 2, now: () => now, timer: false });
  for (let i = 0; i < 1000; i++) causes.note('refused', `refused ${i}`);
  causes.note('nan', 'nan');
  assert.deepEqual(out, [['refused 0', 0], ['nan', 0]]);
  causes.flush();
  assert.deepEqual(out.at(-1), ['refused 999', 999], 'the first count goes out at the first flush');
  causes.note('refused', 'again');
  causes.flush();
  assert.equal(out.length, 3, 'later counts wait for the window');
  now = 1000;
  causes.flush();
  assert.deepEqual(out.at(-1), ['again', 1]);
  now = 5000;
  causes.note('refused', 'quiet spell over');
  assert.deepEqual(out.at(-1), ['quiet spell over', 0], 'a cause quiet for a window is new again');
  // Bounded (2 causes here): a new cause evicts the oldest, whose pending count is written first.
  causes.note('nan', 'nan 2');
  causes.note('nan', 'nan 3');
  causes.note('third', 'third');
  causes.note('fourth', 'fourth');
  assert.deepEqual(out.slice(-4), [['nan 2', 0], ['third', 0], ['nan 3', 1], ['fourth', 0]]);
});

test('the worker batch: level filter, rate limit with summary, host notes once per cause, one post per flush', () => {
  const posts = [];
  const b = createLogBatcher({ post: (e) => posts.push(e), level: 'info', limits: { burst: 5, perSecond: 1, summaryEveryMs: 60_000 }, now: () => 0 });
  for (let i = 0; i < 20_000; i++) b.add('warn', `line ${i}`, 'guest');
  b.add('debug', 'filtered', 'guest');
  b.flush();
  assert.equal(posts.length, 1, 'one message for the whole call');
  assert.deepEqual(posts[0].map((e) => e.msg), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', '19,995 log lines suppressed (limit: 5 at once, then 1 a second)']);
  assert.deepEqual(posts[0].at(-1).extra, { suppressed: 19_995 });
  const h = createLogBatcher({ post: (e) => posts.push(e), level: 'warn', now: () => 0 });
  for (let i = 0; i < 20_000; i++) h.add('warn', 'bext.emit_metric: value of "m" is not finite; sample dropped', 'host');
  h.flush();
  assert.deepEqual(posts.at(-1).map((e) => e.msg), [
    'bext.emit_metric: value of "m" is not finite; sample dropped',
    'bext.emit_metric: value of "m" is not finite; sample dropped (×19,999 more)',
  ]);
  b.close();
  h.close();
});

test('the status line goes out in order with log lines, and the next log line clears it', () => {
  const written = [];
  const dest = { write: (s) => (written.push(s), true), flushSync() {}, on() {} };
  const sink = createSink(dest, (n) => `dropped ${n}\n`);
  sink.status('  loading plugins 1/2  a');
  sink.write('first log line\n');
  sink.write('second\n');
  sink.status(null);
  assert.deepEqual(written, ['\r\x1b[2K  loading plugins 1/2  a', '\r\x1b[2Kfirst log line\n', 'second\n']);
});

test('a full writer drops lines and says how many once it has room', () => {
  const written = [];
  let drop = null;
  let room = false;
  const dest = { write: (s) => (room ? written.push(s) : drop(s), true), flushSync() {}, on: (_e, f) => (drop = f) };
  let now = 0;
  const sink = createSink(dest, (n) => `dropped ${n}\n`, () => now);
  for (let i = 0; i < 5; i++) sink.write(`l${i}\n`);
  room = true;
  now = 2000;
  sink.write('after\n');
  assert.deepEqual(written, ['dropped 5\n', 'after\n']);
});
