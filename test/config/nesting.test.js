// Absurd nesting in a small config is a clean exit-2 error with file:line, found in linear time:
// before, 16k nested table header segments took 14 s (quadratic in the depth) and 10,000 nested
// arrays overflowed the stack (exit 1). Also checked on hot reload: the running server stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../helpers/cleanup.js';
import os from 'node:os';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { findTooDeep, MAX_NESTING } from '../../dist/config/nesting.js';
import { parseConfig } from '../../dist/config/index.js';
import { makeProject, writeConfig, startDev } from '../server/dev.js';

const chain = (n, sep = '.') => Array(n).fill('a').join(sep);
const HEAD = '[server]\nport = 3000\n\n[plugins.p]\npath = "p.wasm"\n';

/** name → [config text, 1-based line of the nesting]. Each is far past the limit (~100-700 KB). */
const DEEP = {
  'table header, 16k segments': [`${HEAD}[plugins.p.config.${chain(16_000)}]\nx = 1\n`, 6],
  'table header, 32k segments': [`${HEAD}[plugins.p.config.${chain(32_000)}]\nx = 1\n`, 6],
  'array of tables header, 16k segments': [`${HEAD}[[plugins.p.config.${chain(16_000)}]]\nx = 1\n`, 6],
  'many headers, each one level deeper': [`${HEAD}${Array.from({ length: 400 }, (_, i) => `[plugins.p.config.${chain(i + 1)}]\nk${i} = ${i}\n`).join('')}`, null],
  'dotted key, 16k segments': [`${HEAD}[plugins.p.config]\n${chain(16_000)} = 1\n`, 7],
  '10,000 nested arrays': [`${HEAD}[plugins.p.config]\nx = ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`, 7],
  '100,000 nested arrays over several lines': [`${HEAD}[plugins.p.config]\nx = [\n${'[\n'.repeat(100_000)}${']'.repeat(100_001)}\n`, null],
  '10,000 nested inline tables': [`${HEAD}[plugins.p.config]\nx = ${'{ a = '.repeat(10_000)}1${' }'.repeat(10_000)}\n`, 7],
  'inline tables with dotted keys': [`${HEAD}[plugins.p.config]\nx = { ${chain(200)} = 1 }\n`, 7],
};

/**
 * CPU milliseconds of the children this process has waited for (Linux: /proc/self/stat, in clock
 * ticks of 10 ms), or null elsewhere. CPU time, not wall time: a busy machine stretches the latter.
 */
function childrenCpuMs() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    // Fields 16 and 17 of stat(5) (cutime, cstime), counted after the ") " that ends field 2.
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return null;
  }
}

function project(text) {
  const dir = tempDir('bext-deep-');
  writeFileSync(path.join(dir, 'bext.config.toml'), text);
  writeFileSync(path.join(dir, 'p.wasm'), '\0asm\x01\0\0\0');
  return dir;
}

// Two go through `bext config check` (exit 2, the message on stderr, CPU of the whole process);
// the others through the parse it makes (parseConfig, as loadConfig calls it), in this process,
// with the lines main would print for the error: a process each checked the CLI no further.
const THROUGH_THE_CLI = new Set(['table header, 16k segments', '100,000 nested arrays over several lines']);

/** `bext config check` on `dir`, or its parse in-process: { code, stderr, ms } (CPU ms). */
function check(name, dir) {
  if (THROUGH_THE_CLI.has(name)) {
    const t0 = Date.now();
    const cpu0 = childrenCpuMs();
    const r = bext(['config', 'check'], { cwd: dir, timeout: 60_000 });
    const ms = cpu0 === null ? Date.now() - t0 : childrenCpuMs() - cpu0;
    assert.equal(r.signal, null, `signal ${r.signal}\n${r.stderr}`);
    return { code: r.code, stderr: r.stderr, ms };
  }
  const file = path.join(dir, 'bext.config.toml');
  // From `dir`, as the CLI runs there: messages name files relative to the working folder. (All
  // synchronous: nothing else in this process runs while the folder is changed.)
  const cwd = process.cwd();
  process.chdir(dir);
  const cpu0 = process.cpuUsage();
  let r;
  try {
    r = parseConfig(readFileSync(file, 'utf8'), file);
  } finally {
    process.chdir(cwd);
  }
  const { user, system } = process.cpuUsage(cpu0);
  if (r.ok) return { code: 0, stderr: '', ms: (user + system) / 1000 };
  return { code: r.error.exitCode, stderr: [`bext: ${r.error.message}`, ...r.error.details].join('\n') + '\n', ms: (user + system) / 1000 };
}

for (const [name, [text, line]] of Object.entries(DEEP)) {
  test(`bext config check: ${name} → exit 2 with file:line, quickly`, () => {
    const dir = project(text);
    const r = check(name, dir);
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /^bext: bext\.config\.toml: nesting too deep/);
    assert.match(r.stderr, new RegExp(`bext\\.config\\.toml:${line ?? '\\d+'}:\\d+  more than ${MAX_NESTING} levels`));
    assert.ok(r.stderr.length < 2000, 'the excerpt of a huge line is clipped');
    // Generous: the process start dominates; before the fix these took 14 s to minutes, or crashed.
    assert.ok(r.ms < 5000, `took ${r.ms} ms of CPU`);
  });
}

test('bext dev --check refuses the same way', () => {
  const dir = project(DEEP['10,000 nested arrays'][0]);
  const r = bext(['dev', '--check'], { cwd: dir, timeout: 60_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /bext\.config\.toml:7:\d+ {2}more than 100 levels/);
});

test('depth counting: header segments + dotted keys + arrays and inline tables, strings and comments ignored', () => {
  const cases = [
    ['x = 1', null],
    [`${chain(100)} = 1`, null],
    [`${chain(101)} = 1`, { line: 1, col: 1, depth: 101 }],
    [`[${chain(100)}]`, null],
    [`[${chain(101)}]`, { line: 1, col: 1, depth: 101 }],
    [`[[${chain(101)}]]`, { line: 1, col: 1, depth: 101 }],
    [`[${chain(60)}]\n${chain(40)} = 1`, null],
    [`[${chain(60)}]\n${chain(41)} = 1`, { line: 2, col: 1, depth: 101 }],
    [`[${chain(60)}]\nx = ${'['.repeat(39)}${']'.repeat(39)}`, null],
    [`[${chain(60)}]\nx = ${'['.repeat(40)}${']'.repeat(40)}`, { line: 2, col: 44, depth: 101 }],
    // Siblings do not add up; closing brackets give the levels back.
    [`x = [${'[1],'.repeat(500)}]`, null],
    [`x = [${'[], '.repeat(200)}${'['.repeat(99)}`, { line: 1, col: 5 + 4 * 200 + 99, depth: 101 }],
    [`x = { ${chain(99)} = 1 }`, null],
    [`x = { b = 1, ${chain(100)} = 1 }`, { line: 1, col: 14, depth: 101 }],
    [`x = { a = { ${chain(98)} = 1 } }`, null],
    [`x = { a = { ${chain(99)} = 1 } }`, { line: 1, col: 13, depth: 101 }],
    // Brackets in strings and comments are text.
    [`x = "${'['.repeat(500)}"\ny = '${'{'.repeat(500)}'\nz = """\n${'['.repeat(500)}\n"""\nw = '''${'['.repeat(500)}'''`, null],
    [`x = "\\"${'['.repeat(500)}"`, null],
    [`# ${'['.repeat(500)}\nx = [ # ${'['.repeat(500)}\n 1 ]`, null],
    [`["${chain(500)}"]`, null], // one quoted segment
    [`"${'a.'.repeat(200)}" = 1`, null],
    // Lines are counted through multi-line strings and arrays.
    [`x = """\n\n"""\ny = [\n1,\n]\n${'['.repeat(1)}${chain(101)}]`, { line: 7, col: 1, depth: 101 }],
  ];
  for (const [text, want] of cases) assert.deepEqual(findTooDeep(text), want, text.slice(0, 80));
});

test('the example config is far within the limit; 90 levels still validate', () => {
  const example = readFileSync(new URL('../../plugins-example/bext.config.toml', import.meta.url), 'utf8');
  assert.equal(findTooDeep(example, 6), null);
  assert.ok(parseConfig(`${HEAD}[plugins.p.config.${chain(90)}]\nx = [[[1]]]\n`, path.join(os.tmpdir(), 'x.toml'), { checkFiles: false }).ok);
});

test('linear: a ~700 KB config of many headers, each just under the limit, validates promptly', () => {
  // 3,500 distinct headers of 96 segments: the key locator must not be quadratic in the depth.
  const headers = Array.from({ length: 3_500 }, (_, i) => `[plugins.p.config.${chain(92)}.k${i}]\nv = ${i}\n`).join('');
  const text = `${HEAD}${headers}`;
  assert.ok(text.length > 600_000);
  const cpu0 = process.cpuUsage();
  const r = parseConfig(text, path.join(os.tmpdir(), 'big.toml'), { checkFiles: false });
  const { user, system } = process.cpuUsage(cpu0);
  const ms = Math.round((user + system) / 1000);
  assert.ok(r.ok, r.ok ? '' : r.error.message + r.error.details?.join('\n'));
  assert.ok(ms < 5000, `took ${ms} ms of CPU`);
});

test('hot reload: a deeply nested config edit is refused, the running server keeps serving', async () => {
  const dir = makeProject({ 'index.html': 'still here' });
  writeConfig(dir, '[server]\nroot = "./public"\n');
  const dev = await startDev(dir);
  try {
    const mark = dev.logs().length;
    writeConfig(dir, `[server]\nroot = "./public"\n[a]\nx = ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    const msg = await dev.waitFor(
      () => dev.logs().slice(mark).map((l) => `${l.msg} ${JSON.stringify(l)}`).find((m) => m.startsWith('config change not applied')),
      10_000,
      'config error',
    );
    assert.match(msg, /nesting too deep|more than 100 levels/);
    const res = await fetch(dev.url);
    assert.equal(await res.text(), 'still here');
  } finally {
    assert.equal((await dev.stop()).code, 0);
  }
});
