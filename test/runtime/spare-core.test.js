// Whether the hook channel may poll: other processes' CPU over the last second, not the
// 1-minute load average (src/runtime/spare-core.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createSpareCore, othersBusyCores, procStatBusyMs, sampleCpu, spareGiven, SPARE_WINDOW_MS } from '../../dist/runtime/spare-core.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('other processes\' cores are what every core spent busy less what this process spent', () => {
  const a = { at: 1_000, allBusyMs: 50_000, ownMs: 2_000 };
  // Over 1 s: 1.5 core-seconds busy in all, 0.5 of them this process's.
  assert.equal(othersBusyCores(a, { at: 2_000, allBusyMs: 51_500, ownMs: 2_500 }), 1);
  // This process alone busy: nobody else.
  assert.equal(othersBusyCores(a, { at: 2_000, allBusyMs: 51_800, ownMs: 3_800 }), 0);
  // Ticks counted apart can put own time a little ahead of all: never below 0.
  assert.equal(othersBusyCores(a, { at: 2_000, allBusyMs: 50_000, ownMs: 2_010 }), 0);
  // No time passed, or a sample that failed: nothing can be said.
  assert.ok(Number.isNaN(othersBusyCores(a, a)));
  assert.ok(Number.isNaN(othersBusyCores(a, { at: 2_000, allBusyMs: NaN, ownMs: 2_500 })));
  assert.equal(spareGiven(0.9, 2), true);
  assert.equal(spareGiven(1, 2), false);
  assert.equal(spareGiven(6.5, 8), true);
  assert.equal(spareGiven(7.2, 8), false);
});

test('the verdict follows the last window: it turns within a window either way, and a long gap starts afresh', () => {
  let now = 0;
  let allBusy = 0;
  let own = 0;
  const taken = [];
  const sample = (at) => {
    taken.push(at);
    return { at, allBusyMs: allBusy, ownMs: own };
  };
  const spare = createSpareCore(sample, 2);
  // Nothing known yet: polling allowed.
  assert.equal(spare(now), true);
  // Another process keeps 1.6 cores busy for a second: no core to spare once the window is over.
  now += SPARE_WINDOW_MS / 2;
  allBusy += 800;
  assert.equal(spare(now), true, 'no verdict before the window is over');
  now += SPARE_WINDOW_MS / 2;
  allBusy += 800;
  assert.equal(spare(now), false);
  assert.equal(taken.length, 2, 'one sample per window, not per call');
  // It stops: the next window says so.
  now += SPARE_WINDOW_MS;
  allBusy += 100;
  own += 50;
  assert.equal(spare(now), true);
  // This process busy on both cores (its own plugins): still a core to spare as far as others go.
  now += SPARE_WINDOW_MS;
  allBusy += 2_000;
  own += 2_000;
  assert.equal(spare(now), true);
  // Busy again, then no call for ten windows: the long window is not judged, a new one starts.
  now += SPARE_WINDOW_MS;
  allBusy += 1_900;
  assert.equal(spare(now), false);
  now += 10 * SPARE_WINDOW_MS;
  allBusy += 500;
  assert.equal(spare(now), false, 'a stale window keeps the last verdict');
  now += SPARE_WINDOW_MS;
  allBusy += 50;
  assert.equal(spare(now), true, 'the fresh window decides');
});

test('busy time is read from the cpu line of /proc/stat: user, nice, system, irq, softirq and steal, in ticks of 10 ms', () => {
  // user nice system idle iowait irq softirq steal guest guest_nice
  assert.equal(procStatBusyMs(() => 'cpu  100 20 30 4000 5 6 7 8 0 0\ncpu0 50 10 15 2000 2 3 3 4 0 0\n'), 1710);
  // Kernels before 2.6.11 have no steal column.
  assert.equal(procStatBusyMs(() => 'cpu  100 20 30 4000 5 6 7\n'), 1630);
  assert.equal(procStatBusyMs(() => 'intr 1 2 3\n'), null);
  assert.equal(procStatBusyMs(() => {
    throw new Error('ENOENT');
  }), null);
  if (process.platform === 'linux') {
    const real = procStatBusyMs();
    assert.ok(Number.isFinite(real) && real > 0, `this machine's /proc/stat: ${real}`);
  }
});

test('a window whose sample failed keeps the verdict', () => {
  let now = 0;
  let allBusy = 0;
  const spare = createSpareCore((at) => ({ at, allBusyMs: allBusy, ownMs: 0 }), 2);
  spare(now);
  now += SPARE_WINDOW_MS;
  allBusy += 1_500;
  assert.equal(spare(now), false);
  now += SPARE_WINDOW_MS;
  allBusy += 100;
  assert.equal(spare(now), true);
  // (NaN compares false: judged, it would read as no core to spare.)
  now += SPARE_WINDOW_MS;
  allBusy = NaN;
  assert.equal(spare(now), true);
  now += SPARE_WINDOW_MS;
  allBusy = 10_000;
  assert.equal(spare(now), true, 'a window that starts with a failed sample says nothing either');
  now += SPARE_WINDOW_MS;
  allBusy += 1_800;
  assert.equal(spare(now), false, 'the next whole window decides');
});

test('one core has none to spare', () => {
  assert.equal(createSpareCore(() => assert.fail('no sample needed'), 1)(0), false);
});

test('on this machine: with every core kept busy by other processes, there is none to spare within two windows', async (t) => {
  const cores = availableParallelism();
  const spinners = Array.from({ length: cores }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
  t.after(() => {
    for (const c of spinners) c.kill('SIGKILL');
  });
  // Let them start before the window opens.
  await sleep(300);
  const before = sampleCpu(performance.now());
  const spare = createSpareCore();
  spare(performance.now());
  await sleep(SPARE_WINDOW_MS + 200);
  const verdict = spare(performance.now());
  const others = othersBusyCores(before, sampleCpu(performance.now()));
  assert.ok(others >= cores - 1, `other processes kept ${others.toFixed(2)} cores busy (${cores} spinning)`);
  assert.equal(verdict, false);
});
