// The key locator gives config errors their line:col. Each case marks where keys and values are
// written and checks the locator finds exactly those places, whatever TOML form sits before them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import TOML from '@iarna/toml';
import { locate } from '../../dist/config/locate.js';

/** Position (1-based line, col) of the n-th occurrence of `needle` in `src`. */
function at(src, needle, n = 1) {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = src.indexOf(needle, i + 1);
    assert.notEqual(i, -1, `fixture lacks ${JSON.stringify(needle)} #${n}`);
  }
  const before = src.slice(0, i);
  const line = before.split('\n').length;
  const col = i - before.lastIndexOf('\n');
  return { line, col };
}

function check(src, expectations) {
  TOML.parse(src); // every case is valid TOML; the locator only sees what the parser accepted
  const locs = locate(src);
  for (const [path, keyNeedle, valueNeedle] of expectations) {
    const loc = locs.get(path);
    assert.ok(loc, `no location for ${JSON.stringify(path)}`);
    if (keyNeedle) assert.deepEqual(loc.key, at(src, ...[keyNeedle].flat()), `key of ${JSON.stringify(path)}`);
    if (valueNeedle) assert.deepEqual(loc.value, at(src, ...[valueNeedle].flat()), `value of ${JSON.stringify(path)}`);
  }
  return locs;
}

test('table headers, plain keys and values', () => {
  const src = '# top\n[server]\nport = 3000\n  host   =   "x"  # c\n\n[cache]\nttl_secs=5\n';
  check(src, [
    [['server'], '[server]'],
    [['server', 'port'], 'port', '3000'],
    [['server', 'host'], 'host', '"x"'],
    [['cache'], '[cache]'],
    [['cache', 'ttl_secs'], 'ttl_secs', '5\n'],
  ]);
});

test('dotted headers create their parents; dotted keys create theirs', () => {
  const src = '[plugins.a.fuel]\non_reload = 1\n[plugins.b]\npermissions.allowed_urls = ["x"]\nlimits . timeout_ms = 9\n';
  check(src, [
    [['plugins'], 'plugins'],
    [['plugins', 'a'], 'a.fuel'],
    [['plugins', 'a', 'fuel'], '[plugins.a.fuel]'],
    [['plugins', 'a', 'fuel', 'on_reload'], 'on_reload', '1\n'],
    [['plugins', 'b'], '[plugins.b]'],
    [['plugins', 'b', 'permissions'], 'permissions'],
    [['plugins', 'b', 'permissions', 'allowed_urls'], 'allowed_urls', '["x"]'],
    [['plugins', 'b', 'permissions', 'allowed_urls', 0], '"x"', '"x"'],
    [['plugins', 'b', 'limits', 'timeout_ms'], 'timeout_ms', '9'],
  ]);
});

test('quoted keys (basic with escapes, literal) in headers and key/value lines', () => {
  const src = '[plugins."my plugin"]\n"a.b" = 1\n\'c d\' = 2\n"\\u00e9t\\u00e9" = 3\n[plugins.\'x.y\'.fuel]\ncleanup = 4\n';
  check(src, [
    [['plugins', 'my plugin'], '[plugins."my plugin"]'],
    [['plugins', 'my plugin', 'a.b'], '"a.b"', '1'],
    [['plugins', 'my plugin', 'c d'], "'c d'", '2'],
    [['plugins', 'my plugin', 'été'], '"\\u00e9', '3'],
    [['plugins', 'x.y'], "'x.y'"],
    [['plugins', 'x.y', 'fuel', 'cleanup'], 'cleanup', '4'],
  ]);
});

test('multi-line strings do not shift later positions, even with brackets, quotes and = inside', () => {
  const src = [
    '[plugins.p.config]',
    'a = """',
    '[server]',
    'port = "not a key"',
    'quote: \\""" inside ""',
    '"""',
    "b = '''",
    '[cache] # not a table',
    "x = '' still text",
    "'''",
    'c = "# not a comment [x]"',
    'd = 1',
  ].join('\n');
  const locs = check(src, [
    [['plugins', 'p', 'config', 'a'], 'a =', '"""'],
    [['plugins', 'p', 'config', 'b'], 'b =', "'''"],
    [['plugins', 'p', 'config', 'c'], 'c =', '"# not'],
    [['plugins', 'p', 'config', 'd'], 'd =', '1'],
  ]);
  assert.equal(locs.get(['server']), undefined);
  assert.equal(locs.get(['cache']), undefined);
  assert.equal(locs.get(['plugins', 'p', 'config', 'x']), undefined);
});

test('multi-line arrays with comments and nested arrays; each element has its own position', () => {
  const src = [
    '[p]',
    'urls = [',
    '  "https://a/*",   # first',
    '  # a comment line with ] and ,',
    '  "https://b/*",',
    ']',
    'nested = [[1, 2], [3, [4]]]',
    'after = true',
  ].join('\n');
  check(src, [
    [['p', 'urls'], 'urls', ['[', 2]],
    [['p', 'urls', 0], '"https://a', '"https://a'],
    [['p', 'urls', 1], '"https://b', '"https://b'],
    [['p', 'nested', 1, 1, 0], '4]', '4]'],
    [['p', 'nested', 0, 1], '2]', '2]'],
    [['p', 'after'], 'after', 'true'],
  ]);
});

test('inline tables, also nested and inside arrays', () => {
  const src = 'fuel = { on_reload = 5, cleanup = 6 }\nlist = [ { a = 1 }, { a = { b = 2 } } ]\nz = 0\n';
  check(src, [
    [['fuel'], 'fuel', '{'],
    [['fuel', 'on_reload'], 'on_reload', '5'],
    [['fuel', 'cleanup'], 'cleanup', '6'],
    [['list', 0, 'a'], 'a = 1', '1 }'],
    [['list', 1, 'a'], ['a = {', 1], '{ b'],
    [['list', 1, 'a', 'b'], 'b = 2', '2 }'],
    [['z'], 'z', '0\n'],
  ]);
});

test('arrays of tables get indices, nested ones count per parent entry', () => {
  const src = '[[x]]\nn = 1\n[[x]]\nn = 2\n[[x.y]]\nm = 3\n[[x.y]]\nm = 4\n[[x]]\n[[x.y]]\nm = 5\n[x.z]\nq = 6\n';
  check(src, [
    [['x'], '[[x]]'],
    [['x', 0], ['[[x]]', 1]],
    [['x', 0, 'n'], ['n = 1'], '1\n'],
    [['x', 1, 'n'], ['n = 2'], '2\n'],
    [['x', 1, 'y', 0, 'm'], 'm = 3', '3'],
    [['x', 1, 'y', 1, 'm'], 'm = 4', '4'],
    [['x', 2], ['[[x]]', 3]],
    [['x', 2, 'y', 0, 'm'], 'm = 5', '5'],
    [['x', 2, 'z', 'q'], 'q = 6', '6'],
  ]);
});

test('scalars keep their source text (to tell 3.0 from 3) and dates with a space are one value', () => {
  const src = 'a = 200_000_000\nb = 3.0\nc = 0x1E\nd = 1979-05-27 07:32:00Z\ne = -inf\nf = 1979-05-27T07:32:00.5+01:00 # c\n';
  const locs = check(src, [[['d'], 'd', '1979']]);
  assert.equal(locs.get(['a']).raw, '200_000_000');
  assert.equal(locs.get(['b']).raw, '3.0');
  assert.equal(locs.get(['c']).raw, '0x1E');
  assert.equal(locs.get(['d']).raw, '1979-05-27 07:32:00Z');
  assert.equal(locs.get(['e']).raw, '-inf');
  assert.equal(locs.get(['f']).raw, '1979-05-27T07:32:00.5+01:00');
});

test('CRLF line endings, tabs and a byte-order mark', () => {
  const body = '[server]\r\n\tport = 1\r\nhost = "h"\r\n';
  const locs = locate('\ufeff' + body);
  assert.deepEqual(locs.get(['server']).key, { line: 1, col: 1 });
  assert.deepEqual(locs.get(['server', 'port']).key, { line: 2, col: 2 });
  assert.deepEqual(locs.get(['server', 'port']).value, { line: 2, col: 9 });
  assert.deepEqual(locs.get(['server', 'host']).value, { line: 3, col: 8 });
});

test('the first mention of a table wins (a later header for a dotted parent does not move it)', () => {
  const src = '[a.b]\nx = 1\n[a]\ny = 2\n';
  check(src, [
    [['a'], 'a.b'],
    [['a', 'b'], '[a.b]'],
    [['a', 'y'], 'y', '2'],
  ]);
});

test('never throws, even on text the parser would reject', () => {
  for (const s of ['[a', 'x = "unterminated', 'x = [1, 2', '= 3', '[[', 'a = """', 'a.b.', '{ }', '\u0000\u0001']) {
    assert.doesNotThrow(() => locate(s), s);
  }
});

// Random documents written by a TOML serializer: every leaf the parser returns must be located,
// and the key text found at that position must be that key (bare or quoted).
test('random serialized documents: every leaf is found at its own key', () => {
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const KEYS = ['port', 'a.b', 'x y', 'été', 'q"uote', "it's", 'on_reload', 'k-1', '[x]', '#h', '='];
  const STRINGS = ['plain', 'multi\nline\n[not.a.table]\nk = v', 'quote " and \\ slash', "it's", '# not comment', '"""', "'''", ''];
  const scalar = () => {
    switch (rand(4)) {
      case 0: return STRINGS[rand(STRINGS.length)];
      case 1: return rand(1_000_000);
      case 2: return rand(2) === 0;
      default: return rand(1000) / 8;
    }
  };
  const value = (depth) => {
    const r = rand(depth > 2 ? 2 : 5);
    if (r < 2) return scalar();
    if (r === 2) return Array.from({ length: rand(3) + 1 }, () => scalar());
    if (r === 3) return table(depth + 1);
    return Array.from({ length: rand(2) + 1 }, () => table(depth + 1)); // array of tables
  };
  const table = (depth) => {
    const t = {};
    for (let i = rand(4) + 1; i > 0; i--) t[KEYS[rand(KEYS.length)]] = value(depth);
    return t;
  };
  const leaves = (v, path, out) => {
    if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object') v.forEach((e, i) => leaves(e, [...path, i], out));
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [k, e] of Object.entries(v)) leaves(e, [...path, k], out);
    else out.push(path);
    return out;
  };
  for (let n = 0; n < 150; n++) {
    const doc = table(0);
    const src = TOML.stringify(doc);
    const parsed = TOML.parse(src);
    const lines = src.split('\n');
    const locs = locate(src);
    for (const path of leaves(parsed, [], [])) {
      const loc = locs.get(path);
      assert.ok(loc, `no location for ${JSON.stringify(path)} in\n${src}`);
      const key = path[path.length - 1];
      const at = lines[loc.key.line - 1].slice(loc.key.col - 1);
      const forms = [key, JSON.stringify(key), `'${key}'`];
      assert.ok(forms.some((f) => at.startsWith(f)), `${JSON.stringify(path)} located at "${at}" in\n${src}`);
      assert.ok(loc.value, `value position of ${JSON.stringify(path)}`);
    }
  }
});
