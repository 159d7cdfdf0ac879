// `bext plugin profile` and `bext plugin run --profile` as a user runs them (subprocess), and
// BEXT_PROFILE on a running `bext dev`: per-function fuel that adds up to what a normal
// `bext plugin run --json` reports, flame graph files that parse, partial profiles on traps, a
// prebuilt C example plugin, and usage errors. The figures are derived in test/runtime/profiler.test.js.
// The normal runs the profiles are compared with are made in this process (callHook: the call
// `bext plugin run --json` makes, with its hook-call preparation and a fresh plugin engine);
// test/runtime/cli.test.js runs that command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';
import { wat } from '../helpers/wasm.js';
import { tempDir } from '../helpers/cleanup.js';
import { startDev } from '../server/helpers.js';
import { callHook } from '../examples/lib.js';

const dir = tempDir('bext-profile-cli-');
const plugin = path.join(dir, 'prof.wasm');
writeFileSync(plugin, wat(readFileSync(path.join(ROOT, 'test/fixtures/runtime/profile.wat'), 'utf8')));

const run = (args, opts = {}) => bext(args, { cwd: dir, ...opts });
const json = (r) => {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
};
const rows = (obj) => Object.fromEntries(obj.functions.map((f) => [f.name, [f.self, f.inclusive, f.calls]]));
const speedscopeWeight = (file) => {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(s.$schema, 'https://www.speedscope.app/file-format-schema.json');
  return s.profiles[0].weights.reduce((a, b) => a + b, 0);
};
const foldedWeight = (file) => readFileSync(file, 'utf8').trim().split('\n').reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

/** What `bext plugin run FILE|NAME HOOK --json` reports, from the same call made in this process. */
const normalRun = async (target, hook, { config, input } = {}) => (await callHook(config, target, hook, input, { cwd: dir })).result;

test('profile --json: hand-computed figures that add up to plugin run --json, and both files', async () => {
  const normal = await normalRun(plugin, 'on_reload');
  assert.equal(normal.outcome, 'ok');
  const r = run(['plugin', 'profile', plugin, 'on_reload', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const p = json(r);
  assert.equal(p.profileTotal, normal.fuelUsed);
  assert.equal(p.fuelUsed, normal.fuelUsed);
  assert.deepEqual(rows(p), {
    fact: [50, 50, 5],
    sum_squares: [44, 56, 1],
    square: [12, 12, 3],
    on_reload: [8, 120, 1],
    clamp: [6, 6, 1],
  });
  assert.equal(p.functions.reduce((a, f) => a + f.self, 0), normal.fuelUsed);
  assert.equal(p.files.length, 2);
  const [speedscope, folded] = p.files;
  assert.match(speedscope, /\.bext\/profiles\/prof-on_reload-\d{8}-\d{6}\.speedscope\.json$/);
  assert.match(folded, /\.folded$/);
  assert.equal(speedscopeWeight(speedscope), normal.fuelUsed);
  assert.equal(foldedWeight(folded), normal.fuelUsed);
  assert.ok(readFileSync(folded, 'utf8').includes('on_reload;fact;fact;fact;fact;fact 6\n'));
});

test('profile prints the table, the total, and where the files went', () => {
  const r = run(['plugin', 'profile', plugin, 'on_reload']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(r.stdout, /^outcome\s+ok$/m);
  assert.match(r.stdout, /^fuel\s+120 of 200,000,000 per call$/m);
  const head = lines.findIndex((l) => /^function\s+self fuel\s+self %\s+inclusive\s+incl %\s+calls$/.test(l));
  assert.ok(head >= 0, r.stdout);
  assert.match(lines[head + 1], /^fact\s+50\s+41\.7%\s+50\s+41\.7%\s+5$/);
  assert.match(lines[head + 2], /^sum_squares\s+44\s+36\.7%\s+56\s+46\.7%\s+1$/);
  assert.match(r.stdout, /^total\s+120\s+100\.0%$/m);
  assert.match(r.stdout, /^wrote \.bext\/profiles\/prof-on_reload-.*\.speedscope\.json .*speedscope\.app/m);
  assert.match(r.stdout, /^wrote \.bext\/profiles\/prof-on_reload-.*\.folded /m);
});

test('-o writes the one format its name asks for; --calls adds calls up', () => {
  const foldedOut = path.join(dir, 'out', 'three.folded');
  mkdirSync(path.dirname(foldedOut), { recursive: true });
  const r = run(['plugin', 'profile', plugin, 'on_reload', '--calls', '3', '-o', foldedOut, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const p = json(r);
  assert.deepEqual(p.files, [foldedOut]);
  assert.equal(p.calls.length, 3);
  assert.equal(p.profileTotal, 360);
  assert.deepEqual(rows(p).fact, [150, 150, 15]);
  assert.equal(foldedWeight(foldedOut), 360);
  const jsonOut = path.join(dir, 'out', 'one.json');
  const r2 = run(['plugin', 'profile', plugin, 'on_reload', '-o', jsonOut]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(speedscopeWeight(jsonOut), 120);
  assert.deepEqual(readdirSync(path.join(dir, 'out')).sort(), ['one.json', 'three.folded']);
});

test('a trapping call: exit 1, and the partial profile adds up to the fuel reported', async () => {
  const normal = await normalRun(plugin, 'on_server_stop');
  assert.equal(normal.outcome, 'trap');
  const r = run(['plugin', 'profile', plugin, 'on_server_stop', '--json']);
  assert.equal(r.code, 1);
  const p = json(r);
  assert.equal(p.partial, true);
  assert.equal(p.profileTotal, normal.fuelUsed);
  assert.deepEqual(rows(p), { sum_squares: [31, 39, 1], square: [8, 8, 2], on_server_stop: [4, 45, 1], boom: [2, 2, 1] });
  const text = run(['plugin', 'profile', plugin, 'on_server_stop']);
  assert.match(text.stdout, /^outcome\s+trap \(unreachable/m);
  assert.match(text.stdout, /^partial: /m);
});

test('plugin run --profile: the usual report, then the profile', () => {
  const r = run(['plugin', 'run', plugin, 'on_reload', '--profile']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^outcome\s+ok$/m);
  assert.match(r.stdout, /^fuel profile$/m);
  assert.match(r.stdout, /^fact\s+50\s+41\.7%/m);
  assert.match(r.stdout, /^wrote .*\.speedscope\.json/m);
  const j = json(run(['plugin', 'run', plugin, 'on_reload', '--profile', '--json']));
  assert.equal(j.fuelUsed, 120);
  assert.equal(j.profile.total, 120);
  assert.equal(j.profile.functions[0].name, 'fact');
  assert.equal(j.profile.files.length, 2);
});

test('the prebuilt C example (cache-auditor) profiled: adds up to a normal run', async () => {
  // Two fresh projects, so both calls start from the same (empty) KV state.
  const project = () => {
    const c = tempDir('bext-profile-c-');
    copyFileSync(path.join(ROOT, 'plugins-example/plugins/cache-auditor/plugin.wasm'), path.join(c, 'auditor.wasm'));
    writeFileSync(
      path.join(c, 'bext.config.toml'),
      '[plugins.auditor]\nsandbox = "wasm"\npath = "./auditor.wasm"\n[plugins.auditor.permissions]\nkv_namespaces = ["cache-audit"]\n',
    );
    return c;
  };
  const input = JSON.stringify({ key: 'page:/blog/first', tags: ['blog', 'post:1'] });
  const normal = await normalRun('auditor', 'on_cache_write', { config: path.join(project(), 'bext.config.toml'), input });
  assert.equal(normal.outcome, 'ok', normal.message);
  const r = bext(['plugin', 'profile', 'auditor', 'on_cache_write', '--input', input, '--json'], { cwd: project() });
  assert.equal(r.code, 0, r.stderr);
  const p = json(r);
  assert.equal(p.calls[0].outcome, 'ok');
  assert.equal(p.fuelUsed, normal.fuelUsed);
  assert.equal(p.profileTotal, normal.fuelUsed);
  assert.equal(p.functions.reduce((a, f) => a + f.self, 0), normal.fuelUsed);
  // A stripped module: its exports name what they can, the rest are func[N].
  const hook = p.functions.find((f) => f.name === 'on_cache_write');
  assert.equal(hook.inclusive, normal.fuelUsed);
  assert.ok(p.functions.some((f) => /^func\[\d+\]$/.test(f.name)));
  assert.ok(p.stacks.every((s) => s.startsWith('on_cache_write')));
  assert.equal(speedscopeWeight(p.files[0]), normal.fuelUsed);
});

test('usage errors exit 2 with one clear line', async () => {
  const r = run(['plugin', 'profile', plugin, 'cleanup']);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr.split('\n')[0], /does not export cleanup: nothing to profile/);
  // The flags and the hook name are refused before anything loads: the command's run() in this
  // process throws the usage error main prints first (exit 2).
  const { run: profileCommand } = await import('../../dist/cli/commands/profile.js');
  const cases = [
    [[plugin, 'on_reload', { calls: '0' }], /--calls must be a positive whole number/],
    [[plugin, 'on_relaod', {}], /unknown hook "on_relaod"; did you mean "on_reload"\?/],
  ];
  for (const [[target, hook, opts], pattern] of cases) {
    await assert.rejects(profileCommand(target, hook, opts), (err) => {
      assert.equal(err.exitCode, 2, `${hook} ${JSON.stringify(opts)}: ${err.message}`);
      assert.match(`bext: ${err.message}`, pattern);
      return true;
    });
  }
});

test('BEXT_PROFILE profiles the next N request events of a running bext dev', async (t) => {
  const project = tempDir('bext-profile-dev-');
  mkdirSync(path.join(project, 'public'), { recursive: true });
  writeFileSync(path.join(project, 'public', 'index.html'), '<h1>hi</h1>');
  copyFileSync(plugin, path.join(project, 'prof.wasm'));
  writeFileSync(path.join(project, 'bext.config.toml'), '[server]\nroot = "./public"\n[plugins.prof]\nsandbox = "wasm"\npath = "./prof.wasm"\n');
  const dev = await startDev(project, { args: ['--no-watch'], env: { BEXT_PROFILE: 'prof:on_request_complete:2', BEXT_LOG: 'debug' } });
  t.after(() => dev.stop());
  for (const p of ['/', '/a', '/abc']) assert.equal((await fetch(dev.url + p)).status, p === '/' ? 200 : 404);
  const done = await dev.waitFor(() => dev.logs().find((l) => /fuel profile of "prof" on_request_complete, 2 of 2 calls: /.test(l.msg)), 15_000, 'the profile log line');
  const file = path.resolve(project, /calls: (\S+\.speedscope\.json)/.exec(done.msg)[1]);
  assert.ok(file.startsWith(path.join(project, '.bext', 'profiles', 'prof-on_request_complete-')), file);
  const s = JSON.parse(readFileSync(file, 'utf8'));
  assert.match(s.name, /prof on_request_complete \(2 calls\)/);
  // Each call costs 17·len + 9 (len = the event JSON's length): the weights add up to that.
  const total = s.profiles[0].weights.reduce((a, b) => a + b, 0);
  assert.equal((total - 18) % 17, 0);
  assert.equal(foldedWeight(file.replace(/\.speedscope\.json$/, '.folded')), total);
  assert.ok(dev.logs().some((l) => /profiling the next 2 on_request_complete calls of plugin "prof"/.test(l.msg)));
});

test('a bad BEXT_PROFILE stops bext dev with exit 2', () => {
  const project = tempDir('bext-profile-bad-');
  mkdirSync(path.join(project, 'public'), { recursive: true });
  writeFileSync(path.join(project, 'bext.config.toml'), '[server]\nroot = "./public"\n');
  const r = bext(['dev', '-c', path.join(project, 'bext.config.toml'), '-p', '0', '--no-watch'], { cwd: project, env: { BEXT_PROFILE: 'prof:on_reqest_complete' }, timeout: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /BEXT_PROFILE: unknown hook "on_reqest_complete"/);
});
