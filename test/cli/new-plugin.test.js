// `bext new plugin` and `bext build` without compilers: what is written (or, with --dry-run, only
// printed), what is refused, and how builds report. The scaffolds are built for real, per
// language, in test/examples/new-plugin.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bext, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';

let initialised = null;

/**
 * A fresh site made by `bext init`: run once per file, then copied (init writes nothing that
 * depends on the folder; test/config/init.test.js covers init itself).
 */
function site() {
  if (!initialised) {
    const template = tempDir('bext-new-init-');
    const r = bext(['init'], { cwd: template });
    assert.equal(r.code, 0, r.stderr);
    initialised = template;
  }
  const dir = tempDir('bext-new-');
  cpSync(initialised, dir, { recursive: true });
  return dir;
}

const configOf = (dir) => readFileSync(path.join(dir, 'bext.config.toml'), 'utf8');

for (const lang of ['rust', 'c', 'assemblyscript']) {
  test(`--dry-run (${lang}) prints every file and the config entry, and writes nothing`, () => {
    const dir = site();
    const before = configOf(dir);
    const r = bext(['new', 'plugin', 'hello', '--lang', lang, '--dry-run'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^would write plugins\/hello\//);
    assert.match(r.stdout, /\[plugins\.hello\]\npath = "\.\/plugins\/hello\/[^"]+\.wasm"/);
    assert.match(r.stdout, /\[plugins\.hello\.build\]\ncommand = (?:\[.+\]|".+")\nwatch = \[.+\]\ncwd = "\.\/plugins\/hello"/);
    assert.match(r.stdout, /nothing written \(--dry-run\)\n$/);
    // The SDK is named by a path that exists, so the project builds wherever it is.
    const sdk = path.join(ROOT, 'sdk');
    if (lang !== 'assemblyscript') assert.ok(r.stdout.includes(sdk), `names ${sdk}`);
    assert.equal(configOf(dir), before);
    assert.equal(existsSync(path.join(dir, 'plugins')), false);
  });
}

test('writes the project and a config entry that passes config check before anything is built', () => {
  const dir = site();
  const r = bext(['new', 'plugin', 'hello', '--lang', 'c', '--hooks', 'on_cache_write,on_reload'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote\s+plugins\/hello\/plugin\.c\n/);
  assert.match(r.stdout, /bext build hello/);
  const source = readFileSync(path.join(dir, 'plugins', 'hello', 'plugin.c'), 'utf8');
  assert.match(source, /#include "bext\.h"/);
  assert.match(source, /BEXT_EXPORT_HOOK\(on_cache_write\)/);
  assert.match(source, /BEXT_EXPORT_HOOK\(on_reload\)/);
  assert.doesNotMatch(source, /on_request_complete/);
  assert.match(configOf(dir), /\n\[plugins\.hello\]\npath = "\.\/plugins\/hello\/plugin\.wasm"\n/);

  const check = bext(['config', 'check'], { cwd: dir });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stderr, /plugin hello: plugins\/hello\/plugin\.wasm is not built yet \(bext build hello/);
  assert.match(check.stdout, /build\s+clang .*-o plugin\.wasm plugin\.c\s+\(in plugins\/hello\)/);
  const json = JSON.parse(bext(['config', 'check', '--json'], { cwd: dir }).stdout);
  assert.equal(json.plugins[0].build.cwd, path.join(dir, 'plugins', 'hello'));
  assert.deepEqual(json.plugins[0].build.watch, ['*.c', '*.h']);
});

test('from a subfolder, the plugin goes beside the config that bext finds; --dir puts it elsewhere', () => {
  const dir = site();
  const r = bext(['new', 'plugin', 'one', '--lang', 'assemblyscript'], { cwd: path.join(dir, 'public') });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(dir, 'plugins', 'one', 'assembly', 'index.ts')));
  const other = bext(['new', 'plugin', 'two', '--lang', 'assemblyscript', '--dir', 'src/two'], { cwd: dir });
  assert.equal(other.code, 0, other.stderr);
  const text = readFileSync(path.join(dir, 'src', 'two', 'assembly', 'index.ts'), 'utf8');
  // The SDK import is relative to the source file and resolves to the bundled SDK.
  const from = /import \{ bext \} from "([^"]+)"/.exec(text)[1];
  assert.ok(existsSync(`${path.resolve(dir, 'src', 'two', 'assembly', from)}.ts`), from);
  assert.match(configOf(dir), /\[plugins\.two\]\npath = "\.\/src\/two\/plugin\.wasm"/);
  assert.equal(bext(['config', 'check'], { cwd: dir }).code, 0);
});

test('refuses a bad name, language or hook, an existing folder or plugin, and a missing config (exit 2, nothing written)', async () => {
  const dir = site();
  const before = configOf(dir);
  const cases = [
    [['new', 'plugin', '9lives', '--lang', 'c'], /invalid plugin name "9lives"/],
    [['new', 'plugin', 'ok'], /required option '--lang <lang>'/],
  ];
  for (const [args, message] of cases) {
    const r = bext(args, { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // The other arguments are checked the same way, first thing in the command (before it looks
  // for the config): the usage error (exit 2) main prints, from the command's run() in this process.
  const { run } = await import('../../dist/cli/commands/new.js');
  const refused = [
    [['plugin', 'a b', { lang: 'c' }], /invalid plugin name "a b"/],
    [['plugin', 'ok', { lang: 'cobol' }], /unknown language "cobol"/],
    [['plugin', 'ok', { lang: 'c', hooks: 'on_request_done' }], /unknown hook on_request_done/],
    [['widget', 'ok', { lang: 'c' }], /bext new widget: unknown/],
  ];
  for (const [[kind, name, opts], message] of refused) {
    await assert.rejects(run(kind, name, { ...opts, config: path.join(dir, 'bext.config.toml') }), (err) => {
      assert.equal(err.exitCode, 2, `${kind} ${name} ${JSON.stringify(opts)}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
  }

  mkdirSync(path.join(dir, 'plugins', 'taken'), { recursive: true });
  const exists = bext(['new', 'plugin', 'taken', '--lang', 'c'], { cwd: dir });
  assert.equal(exists.code, 2);
  assert.match(exists.stderr, /not overwriting plugins\/taken: it already exists/);

  writeFileSync(path.join(dir, 'bext.config.toml'), `${before}\n[plugins.listed]\npath = "./x.wasm"\nenabled = false\n`);
  const listed = bext(['new', 'plugin', 'listed', '--lang', 'c'], { cwd: dir });
  assert.equal(listed.code, 2);
  assert.match(listed.stderr, /bext\.config\.toml already has \[plugins\.listed\]/);
  assert.equal(existsSync(path.join(dir, 'plugins', 'listed')), false);

  const bare = tempDir('bext-new-bare-');
  const none = bext(['new', 'plugin', 'x', '--lang', 'c'], { cwd: bare });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no bext\.config\.toml in .* or any parent folder/);
  assert.equal(existsSync(path.join(bare, 'plugins')), false);
});

/** A site whose plugin "fake" is built by a node one-liner (no compiler needed). */
function fakeBuildSite(script) {
  const dir = site();
  writeFileSync(path.join(dir, 'bext.config.toml'), `${configOf(dir)}
[plugins.fake]
path = "./out/fake.wasm"

[plugins.fake.build]
command = ["node", "-e", ${JSON.stringify(script)}]
watch = ["src/*.txt"]

[plugins.plain]
path = "./public/index.html"
enabled = false
`);
  return dir;
}

test('bext build runs each build once: success prints the module, failure shows the output and exits 1', () => {
  const ok = fakeBuildSite("require('fs').mkdirSync('out',{recursive:true});require('fs').writeFileSync('out/fake.wasm', Buffer.from([0,97,115,109,1,0,0,0]))");
  const r = bext(['build'], { cwd: ok });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^built\s+fake\s+out\/fake\.wasm \(8 bytes, [\d.]+ s\)\n$/);
  assert.match(r.stderr, /building fake: node -e /);

  const bad = fakeBuildSite("console.log('compiling...'); console.error('fake.c:3:1: error: expected ;'); process.exit(3)");
  const f = bext(['build', 'fake'], { cwd: bad });
  assert.equal(f.code, 1);
  assert.match(f.stderr, /bext: build of fake failed: exit code 3\n/);
  assert.match(f.stderr, /fake\.c:3:1: error: expected ;/);
  assert.match(f.stderr, /compiling\.\.\./);
  assert.match(f.stderr, /1 of 1 build failed: fake/);

  const quiet = fakeBuildSite('0');
  const missing = bext(['build'], { cwd: quiet });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /the command succeeded but .*out\/fake\.wasm does not exist/);

  const notFound = fakeBuildSite('0');
  writeFileSync(path.join(notFound, 'bext.config.toml'), configOf(notFound).replace('command = ["node"', 'command = ["no-such-compiler-here"'));
  const nf = bext(['build'], { cwd: notFound });
  assert.equal(nf.code, 1);
  assert.match(nf.stderr, /could not start: no-such-compiler-here: command not found/);
});

test('bext build NAME: an unknown plugin or one without a build table is a usage error', () => {
  const dir = fakeBuildSite('0');
  const unknown = bext(['build', 'nope'], { cwd: dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no plugin named nope/);
  const plain = bext(['build', 'plain'], { cwd: dir });
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /plugin plain has no \[plugins\.plain\.build\] table/);
  const nothing = bext(['build'], { cwd: site() });
  assert.equal(nothing.code, 0);
  assert.match(nothing.stderr, /nothing to build/);
});

test('a shell-string command runs through the shell in cwd', () => {
  const dir = site();
  mkdirSync(path.join(dir, 'p'));
  writeFileSync(path.join(dir, 'bext.config.toml'), `${configOf(dir)}
[plugins.sh]
path = "./p/sh.wasm"
[plugins.sh.build]
command = "printf '\\\\0asm\\\\1\\\\0\\\\0\\\\0' > sh.wasm && echo done"
cwd = "./p"
`);
  const r = bext(['build'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...readFileSync(path.join(dir, 'p', 'sh.wasm'))], [0, 97, 115, 109, 1, 0, 0, 0]);
});
