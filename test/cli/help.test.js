import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';

test('--help lists every command and exits 0', () => {
  const r = bext(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['dev', 'init', 'plugin', 'config']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}`));
  assert.match(r.stdout, /Examples:/);
});

test('plugin --help lists the plugin subcommands', () => {
  const r = bext(['plugin', '--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['stats', 'list', 'inspect', 'run', 'profile', 'instrument']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}`));
});

test('--version prints the package version', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const r = bext(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('an unknown command is a usage error (exit 2)', () => {
  const r = bext(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});
