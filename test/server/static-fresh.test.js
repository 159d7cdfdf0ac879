// Static files kept in memory stay exact: every change is seen by the very next request, with the
// file watcher off (so nothing waits for its events), and symlinks out of the root stay refused.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, unlinkSync, renameSync, utimesSync, statSync } from 'node:fs';
import path from 'node:path';
import { makeProject, writeConfig, startDev } from './dev.js';
import { createFileMemory } from '../../dist/server/file-memory.js';

const secret = 'TOP-SECRET-OUTSIDE-ROOT';
const SAME_MTIME = Math.floor(Date.now() / 1000) - 3600;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let dir;
let dev;
const pub = (...p) => path.join(dir, 'public', ...p);

async function get(p) {
  const res = await fetch(dev.url + p);
  return { status: res.status, body: await res.text() };
}

/** Two reads: the first fills memory, the second is answered from it. */
async function warm(p, expected) {
  for (let i = 0; i < 2; i++) assert.deepEqual(await get(p), { status: 200, body: expected }, p);
}

before(async () => {
  dir = makeProject({
    'page.html': 'version-1',
    'same.html': 'version-3',
    'swap.html': 'old-bytes',
    'gone.html': 'here',
    'doc.txt': 'public doc',
    'sub/a.html': 'in the root',
    'target.html': 'target-1',
  });
  symlinkSync(pub('target.html'), pub('alias.html'));
  // A whole second, so the test below can put the very same mtime back.
  utimesSync(pub('same.html'), SAME_MTIME, SAME_MTIME);
  mkdirSync(path.join(dir, 'outside', 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'outside', 'secret.txt'), secret);
  writeConfig(dir, '[server]\nroot = "./public"\n[cache]\nenabled = false\n');
  // Files are kept in memory only once unchanged for 2 s (file-memory.ts): let these age, so
  // the tests below check changes to files that are answered from memory.
  [dev] = await Promise.all([startDev(dir, { args: ['--no-watch'] }), sleep(2_200)]);
});

after(async () => {
  const r = await dev?.stop();
  assert.equal(r?.code, 0);
});

test('an edit is served by the next request, even one keeping size and mtime', async () => {
  await warm('page.html', 'version-1');
  writeFileSync(pub('page.html'), 'version-2');
  assert.deepEqual(await get('page.html'), { status: 200, body: 'version-2' });
  // Same size, mtime put back: only the ctime tells, and it is checked.
  await warm('same.html', 'version-3');
  writeFileSync(pub('same.html'), 'version-4');
  utimesSync(pub('same.html'), SAME_MTIME, SAME_MTIME);
  assert.equal(statSync(pub('same.html')).mtimeMs, SAME_MTIME * 1000);
  assert.deepEqual(await get('same.html'), { status: 200, body: 'version-4' });
});

test('a file replaced by renaming another over it is served new', async () => {
  await warm('swap.html', 'old-bytes');
  writeFileSync(pub('swap.tmp'), 'new-bytes');
  renameSync(pub('swap.tmp'), pub('swap.html'));
  assert.deepEqual(await get('swap.html'), { status: 200, body: 'new-bytes' });
});

test('an added file is served and a deleted one is gone at once', async () => {
  assert.equal((await get('added.html')).status, 404);
  writeFileSync(pub('added.html'), 'added');
  assert.deepEqual(await get('added.html'), { status: 200, body: 'added' });
  await warm('gone.html', 'here');
  unlinkSync(pub('gone.html'));
  assert.equal((await get('gone.html')).status, 404);
});

test('a kept file replaced by a symlink out of the root is refused at once', async () => {
  await warm('doc.txt', 'public doc');
  unlinkSync(pub('doc.txt'));
  symlinkSync(path.join(dir, 'outside', 'secret.txt'), pub('doc.txt'));
  const r = await get('doc.txt');
  assert.equal(r.status, 403);
  assert.ok(!r.body.includes(secret));
});

test('a folder moved out of the root and linked back is refused, though its files are unchanged', async () => {
  await warm('sub/a.html', 'in the root');
  // The file keeps its inode, size, mtime and ctime: only the path resolution shows the move.
  renameSync(pub('sub'), path.join(dir, 'outside', 'sub', 'moved'));
  symlinkSync(path.join(dir, 'outside', 'sub', 'moved'), pub('sub'));
  const r = await get('sub/a.html');
  assert.equal(r.status, 403);
});

test('a symlink to a file inside the root is served, and follows its target', async () => {
  await warm('alias.html', 'target-1');
  writeFileSync(pub('target.html'), 'target-2');
  assert.deepEqual(await get('alias.html'), { status: 200, body: 'target-2' });
});

describe('file memory', () => {
  const old = Date.now() - 3600_000;
  const st = (over = {}) => ({ dev: 1, ino: 2, size: 3, mtimeMs: old, ctimeMs: old, ...over });

  test('bytes come back only for the same inode, size, mtime and ctime', () => {
    const m = createFileMemory();
    m.keep('/r/a', st(), Date.now(), Buffer.from('abc'));
    assert.equal(m.get('/r/a', st())?.toString(), 'abc');
    for (const change of [{ ino: 9 }, { size: 4 }, { mtimeMs: old + 1 }, { ctimeMs: old + 0.001 }, { dev: 7 }]) {
      m.keep('/r/a', st(), Date.now(), Buffer.from('abc'));
      assert.equal(m.get('/r/a', st(change)), null, JSON.stringify(change));
      assert.equal(m.bytes, 0);
    }
  });

  test('a file changed shortly before its stat, or read at another length, is not kept', () => {
    const m = createFileMemory();
    const now = Date.now();
    m.keep('/r/a', st({ mtimeMs: now - 500, ctimeMs: now - 500 }), now, Buffer.from('abc'));
    assert.equal(m.get('/r/a', st({ mtimeMs: now - 500, ctimeMs: now - 500 })), null);
    m.keep('/r/b', st(), now, Buffer.from('abcd'));
    assert.equal(m.get('/r/b', st()), null);
  });

  test('the byte bound pushes the oldest entries out', () => {
    const m = createFileMemory(8);
    m.keep('/r/a', st(), Date.now(), Buffer.from('aaa'));
    m.keep('/r/b', st(), Date.now(), Buffer.from('bbb'));
    m.keep('/r/c', st(), Date.now(), Buffer.from('ccc'));
    assert.equal(m.get('/r/a', st()), null);
    assert.equal(m.get('/r/c', st())?.toString(), 'ccc');
    assert.ok(m.bytes <= 8);
  });
});
