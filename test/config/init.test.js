// `bext init`: what it writes validates, and it never overwrites without --force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bext } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

const tmp = () => tempDir('bext-init-');

test('init DIR writes a config and a page, says what it wrote and what to run next', () => {
  const cwd = tmp();
  const r = bext(['init', 'my-site'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote\s+my-site\/bext\.config\.toml\n/);
  assert.match(r.stdout, /wrote\s+my-site\/public\/index\.html\n/);
  assert.match(r.stdout, /cd my-site && bext dev/);
  assert.match(readFileSync(path.join(cwd, 'my-site', 'public', 'index.html'), 'utf8'), /<!doctype html>/i);
  const config = readFileSync(path.join(cwd, 'my-site', 'bext.config.toml'), 'utf8');
  for (const section of ['[server]', '[cache]', '# [plugins.my-analytics]', '# [plugins.my-analytics.fuel]', '# [plugins.my-analytics.permissions]', '# [plugins.my-analytics.limits]', '# [plugins.my-analytics.config]']) {
    assert.ok(config.includes(section), `config shows ${section}`);
  }
});

test('the written config validates as written, from inside the folder and from outside', () => {
  const cwd = tmp();
  assert.equal(bext(['init'], { cwd }).code, 0);
  const inside = bext(['config', 'check', '--json'], { cwd });
  assert.equal(inside.code, 0, inside.stderr);
  const cfg = JSON.parse(inside.stdout);
  assert.equal(cfg.server.root, path.join(cwd, 'public'));
  assert.equal(cfg.server.port, 3000);
  assert.deepEqual(cfg.plugins, []);
  const outside = bext(['dev', '--check', '-c', path.join(cwd, 'bext.config.toml')], { cwd: os.tmpdir() });
  assert.equal(outside.code, 0, outside.stderr);
});

test('uncommenting the example plugin gives a valid config once its .wasm exists', () => {
  const cwd = tmp();
  assert.equal(bext(['init'], { cwd }).code, 0);
  const file = path.join(cwd, 'bext.config.toml');
  const text = readFileSync(file, 'utf8').replace(/^# (\[plugins|[a-z_]+ = )/gm, '$1');
  writeFileSync(file, text);
  const missing = bext(['config', 'check'], { cwd });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /plugins\.my-analytics\.path: file not found: .*plugins\/my-analytics\/plugin\.wasm/);
  mkdirSync(path.join(cwd, 'plugins', 'my-analytics'), { recursive: true });
  // The smallest module that loads (config check loads it): it exports its memory.
  writeFileSync(path.join(cwd, 'plugins', 'my-analytics', 'plugin.wasm'), '\0asm\x01\0\0\0\x05\x03\x01\0\x01\x07\x0a\x01\x06memory\x02\0');
  const ok = bext(['config', 'check', '--json'], { cwd });
  assert.equal(ok.code, 0, ok.stderr);
  const [p] = JSON.parse(ok.stdout).plugins;
  assert.equal(p.name, 'my-analytics');
  assert.deepEqual(p.permissions.allowed_urls, ['https://analytics.example.com/*']);
  assert.equal(p.config.endpoint, 'https://analytics.example.com/ingest');
  assert.equal(p.limits.event_queue_size, 4096);
});

test('init refuses to overwrite existing files, names them, and writes nothing (exit 2)', () => {
  const cwd = tmp();
  writeFileSync(path.join(cwd, 'bext.config.toml'), 'mine = true\n');
  const r = bext(['init'], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^bext: not overwriting existing file \(use --force to replace\)\n {2}bext\.config\.toml\n$/);
  assert.equal(readFileSync(path.join(cwd, 'bext.config.toml'), 'utf8'), 'mine = true\n');
  assert.equal(existsSync(path.join(cwd, 'public')), false, 'nothing else written either');
});

test('init --force replaces existing files', () => {
  const cwd = tmp();
  mkdirSync(path.join(cwd, 'public'));
  writeFileSync(path.join(cwd, 'public', 'index.html'), 'old');
  writeFileSync(path.join(cwd, 'bext.config.toml'), 'old');
  const refused = bext(['init', '.'], { cwd });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /existing files[^\n]*\n {2}bext\.config\.toml\n {2}public\/index\.html\n/);
  const r = bext(['init', '.', '--force'], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replaced\s+bext\.config\.toml/);
  assert.notEqual(readFileSync(path.join(cwd, 'public', 'index.html'), 'utf8'), 'old');
  assert.equal(bext(['config', 'check'], { cwd }).code, 0);
});

test('init onto a file is a usage error', () => {
  const cwd = tmp();
  writeFileSync(path.join(cwd, 'taken'), '');
  const r = bext(['init', 'taken'], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /it is a file, not a folder/);
});
