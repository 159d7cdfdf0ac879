// Which resolved addresses plugins may not reach unless the host is named literally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedKind } from '../../dist/host/fetch/blocked-networks.js';

const CASES = [
  ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'],
  ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.0.10', 'private'],
  ['100.64.0.1', 'private'], ['fec0::1', 'private'],
  ['169.254.169.254', 'metadata'], ['169.254.0.1', 'link-local'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'],
  ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'],
  ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
  ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.1.1.1', 'private'],
  ['::ffff:169.254.169.254', 'metadata'], ['::127.0.0.1', 'loopback'], ['64:ff9b::c0a8:1', 'private'], ['2002:a9fe:a9fe::1', 'metadata'],
  ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'], ['192.0.2.1', 'reserved'],
  ['not-an-ip', 'reserved'],
  ['8.8.8.8', null], ['1.1.1.1', null], ['172.32.0.1', null], ['172.15.255.255', null], ['100.128.0.1', null],
  ['169.253.255.255', null], ['::ffff:8.8.8.8', null], ['2606:4700:4700::1111', null], ['[2a00:1450::1]', null],
];

test('address classes', () => {
  for (const [addr, kind] of CASES) assert.equal(blockedKind(addr), kind, addr);
});
