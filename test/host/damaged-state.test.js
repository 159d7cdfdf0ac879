// A damaged `.bext/state.db` never stops `bext dev`: the file is set aside under a timestamped
// name with a warning that says where, an empty one is started, `bext plugin storage` names the
// damage and the fix, and `bext plugin storage --recover` copies back what SQLite can still read.
// Stats live in their own `.bext/stats.db`: damage there costs only stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { createWorkerServices } from '../../dist/host/worker-services.js';
import { openStats, readPersisted } from '../../dist/stats/index.js';
import { dbProblem } from '../../dist/host/damaged-db.js';
import { openStateDb } from '../../dist/host/state-db.js';
import { listKeys } from '../../dist/host/storage/inspect.js';
import { recover } from '../../dist/cli/commands/recover.js';
import { startDev } from '../server/helpers.js';
import { tempDir, init, enc } from './harness.js';

const KEYS = 300;

function project() {
  const dir = tempDir('bext-damaged-');
  fs.mkdirSync(path.join(dir, 'public'));
  fs.writeFileSync(path.join(dir, 'public', 'index.html'), 'hi');
  fs.writeFileSync(path.join(dir, 'p.wasm'), wat('(module (memory (export "memory") 1) (func (export "on_reload")))'));
  fs.writeFileSync(path.join(dir, 'bext.config.toml'), '[server]\nroot = "./public"\n[plugins.keeper]\npath = "./p.wasm"\n');
  const s = createWorkerServices(init('keeper', path.join(dir, '.bext', 'state.db')));
  for (let i = 0; i < KEYS; i++) assert.equal(s.storageSet(enc(`key-${String(i).padStart(4, '0')}`), enc('v'.repeat(200))), 0);
  s.close();
  return dir;
}

const stateDb = (dir) => path.join(dir, '.bext', 'state.db');

/**
 * How many keys keeper has, read with the functions `bext plugin storage keeper` lists them with
 * (test/host/storage-cli.test.js runs that command): 0 when there is no state.db.
 */
function keeperKeys(dir) {
  if (!fs.existsSync(stateDb(dir))) return 0;
  const db = openStateDb(stateDb(dir));
  try {
    return listKeys(db, 'keeper').length;
  } finally {
    db.close();
  }
}

// `bext plugin storage` and `--recover` are run on these; for the other kinds it is enough that
// the check storage makes first (dbProblem) finds the damage, as what it then prints does not
// depend on the kind, and --recover's salvage is its recover() in this process.
const LISTED_BY_THE_CLI = new Set(['garbage header', 'a directory']);

/**
 * `bext plugin storage --recover [FILE] [--json]` in `dir`: through the CLI, or through the
 * command's recover() in this process with its stdout caught (recover is synchronous, so nothing
 * else in this process writes meanwhile). { code, stdout, stderr }.
 */
function recoverRun(dir, { cli, from, json = false }) {
  if (cli) return bext(['plugin', 'storage', '--recover', ...(from ? [from] : []), ...(json ? ['--json'] : [])], { cwd: dir });
  const write = process.stdout.write;
  let stdout = '';
  let code;
  process.stdout.write = (chunk) => {
    stdout += chunk;
    return true;
  };
  try {
    code = recover(stateDb(dir), from, json);
  } finally {
    process.stdout.write = write;
  }
  return { code, stdout, stderr: '' };
}
const PAGE = 4096;

const DAMAGE = {
  truncated: (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / PAGE / 2) * PAGE + 100),
  'garbage header': (f) => {
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.from('not a database header, just some text '.repeat(3)), 0, 100, 0);
    fs.closeSync(fd);
  },
  'zeroed pages': (f) => {
    const pages = fs.statSync(f).size / PAGE;
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.alloc(PAGE), 0, PAGE, Math.floor(pages / 2) * PAGE);
    fs.closeSync(fd);
  },
  'random bytes': (f) => {
    const size = fs.statSync(f).size;
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 2654435761 + 12345) >>> 24; // fixed, not random: the test is repeatable
    fs.writeFileSync(f, bytes);
  },
  'a directory': (f) => {
    fs.rmSync(f);
    fs.mkdirSync(f);
    fs.writeFileSync(path.join(f, 'inside'), 'x');
  },
};

for (const [kind, damage] of Object.entries(DAMAGE)) {
  test(`state.db with ${kind}: storage says so, bext dev starts and sets it aside, --recover salvages what it can`, async (t) => {
    const dir = project();
    damage(stateDb(dir));

    if (LISTED_BY_THE_CLI.has(kind)) {
      const listed = bext(['plugin', 'storage', 'keeper'], { cwd: dir });
      assert.equal(listed.code, 1, listed.stdout + listed.stderr);
      assert.match(listed.stderr, /^bext: \.bext\/state\.db is damaged \(.+\)$/m);
      assert.match(listed.stderr, /`bext plugin storage --recover`/);
      assert.doesNotMatch(listed.stderr, /internal error|SqliteError|\n\s+at /);
    } else {
      assert.match(dbProblem(stateDb(dir)) ?? '', /.+/, 'the damage is found before anything reads the file');
    }

    const dev = await startDev(dir, { args: ['--no-watch'] });
    t.after(() => dev.stop('SIGKILL'));
    assert.equal(await (await fetch(dev.url)).text(), 'hi');
    // Written before the banner, but on stderr: the banner (stdout) can reach this test first.
    const warning = await dev.waitFor(() => dev.logs().find((l) => /was damaged/.test(l.msg ?? '')), 30_000, 'the warning in the log');
    const m = /^\.bext\/state\.db was damaged \((.+)\): moved it to (\.bext\/state\.db\.damaged-\d{8}-\d{6}) and started an empty one/.exec(warning.msg);
    assert.ok(m, warning.msg);
    assert.match(dev.stdout(), /state\.db was damaged/, 'the banner shows it too');
    const aside = path.join(dir, m[2]);
    assert.ok(fs.existsSync(aside), `${aside} exists`);
    // The empty state.db is created when a plugin first stores something (this one never does).
    assert.ok(!fs.existsSync(stateDb(dir)) || fs.statSync(stateDb(dir)).isFile(), 'nothing damaged left at state.db');
    assert.equal((await dev.stop('SIGTERM')).code, 0);

    const cli = LISTED_BY_THE_CLI.has(kind);
    const r = recoverRun(dir, { cli, json: true });
    const report = JSON.parse(r.stdout);
    assert.equal(report.from, aside);
    const keys = keeperKeys(dir);
    if (report.unreadable !== undefined) {
      assert.equal(r.code, 1);
      assert.equal(keys, 0);
      const text = recoverRun(dir, { cli, from: aside });
      assert.match(text.stdout, /^nothing could be read from .*state\.db\.damaged-/m);
    } else {
      assert.equal(r.code, 0, r.stderr);
      const storage = report.tables.find((x) => x.table === 'host_storage');
      assert.equal(storage.copied, keys);
      assert.ok(keys <= KEYS);
      t.diagnostic(`${kind}: recovered ${keys} of ${KEYS} keys${storage.stopped ? ` (stopped: ${storage.stopped})` : ''}`);
    }
    if (kind === 'zeroed pages') assert.ok(keys > 0 && keys < KEYS, `zeroing one page of ${KEYS} keys loses some, not all (${keys})`);
  });
}

test('a damaged stats.db costs only the stats: storage stays, stats start again', async (t) => {
  const dir = project();
  const statsDb = path.join(dir, '.bext', 'stats.db');
  fs.writeFileSync(statsDb, 'garbage '.repeat(1000));
  const dev = await startDev(dir, { args: ['--no-watch'] });
  t.after(() => dev.stop('SIGKILL'));
  await dev.waitFor(() => /stats\.db was damaged/.test(dev.stderr()), 30_000, 'the warning in the log');
  assert.match(dev.stderr(), /\.bext\/stats\.db was damaged \(file is not a database\): moved it to \.bext\/stats\.db\.damaged-\d{8}-\d{6}; stats start again from zero/);
  assert.doesNotMatch(dev.stderr(), /state\.db was damaged/);
  assert.equal((await dev.stop('SIGTERM')).code, 0);
  assert.equal(keeperKeys(dir), KEYS);
  const stats = bext(['plugin', 'stats', 'keeper', '--json'], { cwd: dir });
  assert.equal(stats.code, 0, stats.stderr);
});

test('stats an older bext kept in state.db move to stats.db on the first bext dev', async (t) => {
  const dir = project();
  const old = openStats({ dbPath: stateDb(dir), flushIntervalMs: 0 });
  for (let i = 0; i < 7; i++) old.record({ plugin: 'keeper', hook: 'on_reload', outcome: 'ok', fuelUsed: 10, budget: 1000, wallUs: 5 });
  old.close();
  const dev = await startDev(dir, { args: ['--no-watch'] });
  t.after(() => dev.stop('SIGKILL'));
  assert.equal((await dev.stop('SIGTERM')).code, 0);
  const stats = readPersisted(path.join(dir, '.bext', 'stats.db'), { plugin: 'keeper' });
  assert.equal(stats.plugins.keeper.hooks.find((h) => h.hook === 'on_reload').calls, 7);
  assert.equal(keeperKeys(dir), KEYS);
});
