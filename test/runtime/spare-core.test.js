// Whether the hook channel may poll: other processes' CPU over the last second, not the
// 1-minute load average (src/runtime/spare-core.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { allowedCpus, createSpareCore, othersBusyCores, procStatBusyMs, procStatBusyMsOf, procStatCpuCount, sampleCpu, spareGiven, SPARE_WINDOW_MS } from '../../dist/runtime/spare-core.js';

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
  // A per-CPU line is not the total.
  assert.equal(procStatBusyMs(() => 'cpu0 50 10 15 2000 2 3 3 4 0 0\n'), null);
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

const STAT4 = [
  'cpu  400 0 40 9000 0 0 4 0 0 0',
  'cpu0 100 0 10 2000 0 0 1 0 0 0',
  'cpu1 100 0 10 2000 0 0 1 0 0 0',
  'cpu2 150 0 15 2500 0 0 1 0 0 0',
  'cpu3 50 0 5 2500 0 0 1 0 0 0',
  'intr 1 2 3',
].join('\n');

test('a thread allowed some of the host\'s CPUs counts only their lines of /proc/stat', () => {
  assert.equal(procStatCpuCount(STAT4), 4);
  // cpu2 + cpu3: (166 + 56) ticks of 10 ms.
  assert.equal(procStatBusyMsOf([2, 3], () => STAT4), 2220);
  assert.equal(procStatBusyMsOf([0], () => STAT4), 1110);
  // A CPU with no line (taken offline since): nothing can be said.
  assert.equal(procStatBusyMsOf([3, 4], () => STAT4), null);
  assert.equal(procStatBusyMsOf([0], () => {
    throw new Error('ENOENT');
  }), null);
  const status = (list) => () => `Name:\tnode\nCpus_allowed:\tf\nCpus_allowed_list:\t${list}\nMems_allowed:\t1\n`;
  assert.deepEqual(allowedCpus(status('0-3,8,10-11')), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(allowedCpus(status('5')), [5]);
  assert.equal(allowedCpus(status('3-1')), null);
  assert.equal(allowedCpus(status('x')), null);
  assert.equal(allowedCpus(() => 'Name:\tnode\n'), null);
  if (process.platform === 'linux') {
    const mine = allowedCpus();
    assert.ok(mine !== null && mine.length === availableParallelism(), `this thread's CPUs: ${mine}`);
  }
});

const hasTaskset = process.platform === 'linux' && availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

test('on this machine: a process pinned to one CPU does not count a process spinning on another', { skip: hasTaskset ? false : 'needs Linux, taskset and two CPUs' }, async (t) => {
  const spinner = spawn('taskset', ['-c', '1', process.execPath, '-e', 'for (;;);'], { stdio: 'ignore' });
  t.after(() => spinner.kill('SIGKILL'));
  await sleep(300);
  const url = new URL('../../dist/runtime/spare-core.js', import.meta.url).href;
  const script = `const { sampleCpu, othersBusyCores } = await import(${JSON.stringify(url)});
const a = sampleCpu(performance.now());
await new Promise((r) => setTimeout(r, 1200));
console.log(JSON.stringify({ others: othersBusyCores(a, sampleCpu(performance.now())) }));`;
  const before = sampleCpu(performance.now());
  const child = spawnSync('taskset', ['-c', '0', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const hostWide = othersBusyCores(before, sampleCpu(performance.now()));
  assert.equal(child.status, 0, child.stderr);
  const { others } = JSON.parse(child.stdout);
  // Host-wide, CPU 1 (the spinner, and whatever else the machine runs) is busy and counted; on
  // CPU 0 it is not. Other work on CPU 0 (tests running beside this one) counts in both.
  assert.ok(hostWide - others >= 0.7, `other processes kept ${hostWide.toFixed(2)} cores busy host-wide, ${others.toFixed(2)} seen from CPU 0`);
});
