// The config API other parts use directly: parseConfig for hot reload (never throws),
// loadConfig's frozen result, and configToJson.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cliOverrides, configToJson, loadConfig, parseConfig } from '../../dist/config/index.js';
import { BextError } from '../../dist/errors.js';
import { tempDir } from '../helpers/cleanup.js';

const dir = tempDir('bext-config-api-');
const file = path.join(dir, 'bext.config.toml');

test('parseConfig returns problems instead of throwing, for syntax and validation errors alike', () => {
  for (const text of ['[server\n', 'port = 1\n[server]\nport = "x"\n', '[plugins.p]\n', '\u0000', '[[plugins]]\n']) {
    const r = parseConfig(text, file);
    assert.equal(r.ok, false, text);
    assert.ok(r.error instanceof BextError);
    assert.equal(r.error.exitCode, 2);
    assert.equal(r.error.code, 'config_invalid');
    assert.ok(r.error.details.length > 0);
  }
});

test('parseConfig resolves against the given file path and can skip file checks', () => {
  const r = parseConfig('[plugins.p]\npath = "p/x.wasm"\n', file, { checkFiles: false });
  assert.equal(r.ok, true);
  assert.equal(r.config.plugins[0].path, path.join(dir, 'p', 'x.wasm'));
  const checked = parseConfig('[plugins.p]\npath = "p/x.wasm"\n', file);
  assert.equal(checked.ok, false);
  assert.match(checked.error.details[0], /file not found: .*p\/x\.wasm/);
});

test('loadConfig freezes the whole result; configToJson gives a plain mutable copy', () => {
  writeFileSync(file, '[plugins.p]\npath = "x.wasm"\nenabled = false\n[plugins.p.config]\na = { b = [1] }\n');
  const cfg = loadConfig(file, { overrides: { port: 0 } });
  assert.equal(cfg.server.port, 0);
  assert.ok(Object.isFrozen(cfg));
  assert.ok(Object.isFrozen(cfg.server));
  assert.ok(Object.isFrozen(cfg.plugins[0].fuel));
  assert.ok(Object.isFrozen(cfg.plugins[0].config.a.b));
  assert.throws(() => {
    cfg.server.port = 1;
  }, TypeError);
  const json = configToJson(cfg);
  json.server.port = 1;
  assert.equal(json.plugins[0].config.a.b[0], 1);
  assert.equal(cfg.server.port, 0);
});

test('loadConfig throws a BextError listing every problem', () => {
  writeFileSync(file, '[server]\nport = -1\nhots = "x"\n');
  assert.throws(() => loadConfig(file), (e) => {
    assert.ok(e instanceof BextError);
    assert.match(e.message, /2 problems in the config$/);
    assert.equal(e.details.length, 2);
    assert.match(e.details[0], /:2:8 {2}server\.port: -1 is out of range/);
    assert.match(e.details[1], /:3:1 {2}server\.hots: unknown key.*\(did you mean "host"\?\)/);
    return true;
  });
});

test('cliOverrides checks flag values', () => {
  assert.deepEqual(cliOverrides({ port: '8080', host: '::1' }), { port: 8080, host: '::1' });
  assert.deepEqual(cliOverrides({}), {});
  for (const port of ['65536', '1.5', '', 'x', '-3']) assert.throws(() => cliOverrides({ port }), /invalid --port/);
});

test('a byte-order mark and CRLF line endings do not shift positions', () => {
  const r = parseConfig('\ufeff[server]\r\nport = 1\r\nprot = 2\r\n', file);
  assert.equal(r.ok, false);
  assert.deepEqual(r.error.details.length, 1);
  assert.match(r.error.details[0], /:3:1 {2}server\.prot: unknown key/);
});
