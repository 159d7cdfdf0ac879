// The dashboard page arrives in one response: stylesheet and script inlined (allowed by hash in a
// CSP as strict as for the separate files) and the first view embedded as a JSON data block, so
// the browser draws without another request. Guest-controlled text in that view (an error
// message) cannot close the data block and run as script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { wat } from '../helpers/wasm.js';
import { makeProject, startDev, writeConfig } from './helpers.js';

const HOSTILE = '</script><script>window.pwned=1</script><!-- \u2028 \u2029 ';

test('/__bext/ in a browser: one response with the code inlined by hash and the first view embedded safely', async (t) => {
  const dir = makeProject({ 'index.html': 'hi' });
  const msg = Buffer.from(HOSTILE);
  const bytes = [...msg].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
  writeFileSync(
    path.join(dir, 'plugins', 'liar.wasm'),
    wat(`(module (memory (export "memory") 1) (data (i32.const 64) "${bytes}")
      (func (export "bext_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "on_request_complete") (param i32 i32) (result i64)
        (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const ${msg.length}))))`),
  );
  writeConfig(dir, '[server]\nroot = "./public"\n[cache]\nenabled = false\n[plugins.liar]\npath = "./plugins/liar.wasm"\n');
  const dev = await startDev(dir, { args: ['--no-watch'] });
  t.after(() => dev.stop('SIGKILL'));
  assert.equal((await request(dev.url)).statusCode, 200);
  await dev.waitFor(async () => {
    const v = await (await request(dev.url + '__bext/dashboard', { headers: { accept: 'application/json' } })).body.json();
    return v.failures.length > 0;
  }, 30_000, 'the error outcome in the dashboard view');

  const res = await request(dev.url + '__bext/', { headers: { accept: 'text/html,application/xhtml+xml' } });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'], /^text\/html/);
  const html = await res.body.text();
  assert.equal(Number(res.headers['content-length']), Buffer.byteLength(html));
  assert.doesNotMatch(html, /src="[^"]*dashboard\.js"|href="[^"]*dashboard\.css"/, 'nothing to fetch before the first draw');

  const block = /<script type="application\/json" id="initial-view">([^]*?)<\/script>/.exec(html);
  assert.ok(block, 'the first view is embedded');
  assert.doesNotMatch(block[1], /<|\u2028|\u2029/, 'no raw < or line separators inside the data block');
  const view = JSON.parse(block[1]);
  assert.equal(view.failures[0].message, HOSTILE, 'the message arrives intact');
  assert.equal(view.plugins[0].name, 'liar');
  assert.equal(html.match(/<script/g).length, 2, 'the hostile message added no script element');

  // Inline code is allowed by its hash only; everything else stays as strict as before.
  const script = /<script type="module">([^]*?)<\/script>/.exec(html)[1];
  const style = /<style>([^]*?)<\/style>/.exec(html)[1];
  const hash = (s) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
  const csp = res.headers['content-security-policy'];
  assert.ok(csp.includes(`script-src 'self' ${hash(script)};`), csp);
  assert.ok(csp.includes(`style-src 'self' ${hash(style)};`), csp);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);

  // The separate assets still answer (scripts and older pages use them).
  const js = await request(dev.url + '__bext/assets/dashboard.js');
  assert.equal(js.statusCode, 200);
  assert.equal(await js.body.text(), script);
});
