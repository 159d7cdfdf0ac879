// Config discovery: without -c, bext uses the nearest bext.config.toml from the working folder up,
// says so when it came from a parent folder, and names the search when there is none. `bext init`
// inside an existing site warns about nesting a second site.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

/** site/bext.config.toml (port 4100) with site/public/blog/ below it. */
function site() {
  const dir = tempDir('bext-discovery-');
  const root = path.join(dir, 'site');
  mkdirSync(path.join(root, 'public', 'blog'), { recursive: true });
  writeFileSync(path.join(root, 'bext.config.toml'), '[server]\nport = 4100\n');
  return { dir, root, deep: path.join(root, 'public', 'blog') };
}

test('from a subfolder, the nearest config in a parent folder is used and named on stderr', () => {
  const s = site();
  const r = bext(['config', 'check', '--json'], { cwd: s.deep });
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout);
  assert.equal(cfg.file, path.join(s.root, 'bext.config.toml'));
  assert.equal(cfg.server.port, 4100);
  assert.equal(cfg.server.root, path.join(s.root, 'public'), 'paths still resolve against the config folder');
  assert.equal(r.stderr, `bext: using ${path.join(s.root, 'bext.config.toml')} (found in a parent folder)\n`);
  // In the config's own folder, nothing extra is said.
  const here = bext(['config', 'check'], { cwd: s.root });
  assert.equal(here.code, 0, here.stderr);
  assert.equal(here.stderr, '');
});

test('the nearest config wins over one further up; -c wins over both', () => {
  const s = site();
  writeFileSync(path.join(s.root, 'public', 'bext.config.toml'), '[server]\nport = 4200\nroot = "."\n');
  const near = bext(['config', 'check', '--json'], { cwd: s.deep });
  assert.equal(near.code, 0, near.stderr);
  assert.equal(JSON.parse(near.stdout).server.port, 4200);
  writeFileSync(path.join(s.dir, 'other.toml'), '[server]\nport = 4300\n');
  const flag = bext(['config', 'check', '--json', '-c', path.join(s.dir, 'other.toml')], { cwd: s.deep });
  assert.equal(flag.code, 0, flag.stderr);
  assert.equal(JSON.parse(flag.stdout).server.port, 4300);
  assert.equal(flag.stderr, '', '-c is not announced');
  const missing = bext(['config', 'check', '-c', 'nope.toml'], { cwd: s.deep });
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.split('\n')[0], `bext: config file not found: ${path.join(s.deep, 'nope.toml')}`, '-c never searches');
});

test('no config anywhere: the error names the folder the search started from (exit 2)', () => {
  const dir = tempDir('bext-discovery-none-');
  const deep = path.join(dir, 'a', 'b', 'c');
  mkdirSync(deep, { recursive: true });
  for (const cmd of [['config', 'check'], ['dev', '--check'], ['plugin', 'list'], ['plugin', 'storage', 'x']]) {
    const r = bext(cmd, { cwd: deep });
    assert.equal(r.code, 2, cmd.join(' '));
    assert.equal(r.stderr.split('\n')[0], `bext: no bext.config.toml in ${deep} or any parent folder`, cmd.join(' '));
    assert.match(r.stderr, /bext init/);
  }
  const run = bext(['plugin', 'run', 'my-plugin', 'on_reload'], { cwd: deep });
  assert.equal(run.code, 2);
  assert.match(run.stderr, new RegExp(`no bext\\.config\\.toml in ${deep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} or any parent folder`));
});

test('bext dev from a subfolder serves the site its parent config describes', () => {
  const s = site();
  const r = bext(['dev', '--check', '-p', '0'], { cwd: s.deep });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /: config is valid\n/);
  assert.match(r.stderr, /found in a parent folder/);
});

test('bext init inside an existing site warns that it nests a second site, and still writes it', () => {
  const s = site();
  const r = bext(['init'], { cwd: s.deep });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^bext: warning: ${path.join(s.root, 'bext.config.toml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already configures a site around `));
  assert.match(r.stderr, /second site inside it/);
  assert.ok(existsSync(path.join(s.deep, 'bext.config.toml')));
  // A fresh folder outside any site: no warning.
  const fresh = tempDir('bext-discovery-fresh-');
  const ok = bext(['init', 'my-site'], { cwd: fresh });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  assert.equal(readFileSync(path.join(fresh, 'my-site', '.gitignore'), 'utf8').split('\n').includes('.bext/'), true);
});
