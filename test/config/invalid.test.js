// Golden tests: each test/fixtures/config/invalid/NAME.toml is checked and its stderr compared
// with NAME.err (the fixture folder shown as <dir>). Independently of the golden text, every line
// marked `#!` in the .toml must be reported, and no other line. Three go through the real CLI, as
// `bext config check` and as `bext dev --check`; the rest through what that command does with a
// config that does not load, in this process: loadConfig, then main's reportError (same text on
// stderr, same exit code), since a process per golden checked the CLI no further.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';
import { cliOverrides, loadConfig } from '../../dist/config/index.js';
import { reportError } from '../../dist/cli/main.js';

const dir = path.join(ROOT, 'test', 'fixtures', 'config', 'invalid');
const cases = readdirSync(dir).filter((f) => f.endsWith('.toml')).sort();

test('there are golden cases', () => {
  assert.ok(cases.length >= 10, `only ${cases.length} cases`);
});

// `bext dev --check` is routed to the same check as `bext config check` (src/cli/main.ts): these
// (a parse error, several problems at once, a plugin entry) go through both commands, which must
// print the same.
const ALSO_DEV_CHECK = new Set(['syntax', 'three-mistakes', 'missing-plugin']);

/**
 * `bext config check -c FILE` in the fixture folder for a config that does not load, in this
 * process: { code, stdout, stderr }. All synchronous, so nothing else in this process runs (or
 * writes to stderr) while the folder is changed and stderr is caught.
 */
function configCheckInProcess(file) {
  const cwd = process.cwd();
  const write = process.stderr.write;
  let stderr = '';
  let code = 0;
  process.chdir(dir);
  process.stderr.write = (chunk) => {
    stderr += chunk;
    return true;
  };
  try {
    loadConfig(file, { overrides: cliOverrides({}) });
  } catch (err) {
    code = reportError(err);
  } finally {
    process.stderr.write = write;
    process.chdir(cwd);
  }
  return { code, stdout: '', stderr };
}

test('the cases run through bext dev --check exist', () => {
  for (const name of ALSO_DEV_CHECK) assert.ok(cases.includes(`${name}.toml`), name);
});

for (const file of cases) {
  const name = file.replace(/\.toml$/, '');
  const commands = ALSO_DEV_CHECK.has(name) ? [['config', 'check'], ['dev', '--check']] : [null];
  for (const command of commands) {
    test(`${name}: bext ${(command ?? ['config', 'check']).join(' ')} reports it (exit 2)${command ? '' : ' (in-process)'}`, () => {
      const r = command ? bext([...command, '-c', file], { cwd: dir }) : configCheckInProcess(file);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const got = r.stderr.split(dir).join('<dir>');
      assert.equal(got, readFileSync(path.join(dir, `${name}.err`), 'utf8'));

      const src = readFileSync(path.join(dir, file), 'utf8').split('\n');
      const marked = src.flatMap((l, i) => (l.includes('#!') ? [i + 1] : []));
      const re = new RegExp(`^  ${file.replace('.', '\\.')}:(\\d+):\\d+  `, 'gm');
      const reported = [...new Set([...got.matchAll(re)].map((m) => Number(m[1])))];
      assert.deepEqual(reported, marked, 'reported lines differ from the lines marked #!');
      const count = /(\d+) problems? in the config/.exec(got);
      if (count) assert.equal(Number(count[1]), [...got.matchAll(re)].length, 'the count in the first line');
    });
  }
}
