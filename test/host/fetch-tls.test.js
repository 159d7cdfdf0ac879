// HTTPS through a pinned connection: the TLS name (SNI and certificate check) is the URL's host,
// not the address we connect to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from './harness.js';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/host/tls-fetch.js');

test('https to a pinned address verifies the certificate against the URL host', () => {
  const dir = tempDir('bext-tls-');
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=secure.test', '-addext', 'subjectAltName=DNS:secure.test',
  ], { stdio: 'ignore' });
  const r = spawnSync(process.execPath, [child, key, cert], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: cert, BEXT_LOG: 'silent' }, encoding: 'utf8', timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const { good, bad } = JSON.parse(r.stdout);
  assert.equal(good.status, 200, JSON.stringify(good));
  assert.match(good.body, /^tls ok, host header secure\.test:\d+$/);
  assert.equal(bad.status, 0);
  assert.match(bad.error, /altnames|ERR_TLS_CERT_ALTNAME_INVALID|does not match/i);
});
