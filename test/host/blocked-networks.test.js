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

// IPv6 forms that carry an IPv4 address are judged by that address.
const EMBEDDED = [
  // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765), dotted and hex
  ['::ffff:0:127.0.0.1', 'loopback'], ['::ffff:0:7f00:1', 'loopback'], ['0:0:0:0:ffff:0:a00:1', 'private'],
  ['::ffff:0:169.254.169.254', 'metadata'], ['::ffff:0:192.168.1.1', 'private'], ['::ffff:0:8.8.8.8', null],
  // NAT64 well-known prefix 64:ff9b::/96
  ['64:ff9b::127.0.0.1', 'loopback'], ['64:ff9b::7f00:1', 'loopback'], ['64:ff9b::a9fe:a9fe', 'metadata'],
  ['64:ff9b::10.1.2.3', 'private'], ['64:ff9b::8.8.8.8', null],
  // NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215), IPv4 in the last 32 bits
  ['64:ff9b:1::127.0.0.1', 'loopback'], ['64:ff9b:1:ab:cd::a00:1', 'private'], ['64:ff9b:1:ffff:ffff:ffff:a9fe:a9fe', 'metadata'],
  ['64:ff9b:1::8.8.8.8', null],
  // Neighbours of those prefixes are not NAT64
  ['64:ff9b:2::127.0.0.1', null], ['64:ff9a::127.0.0.1', null],
];

test('IPv4-translated and NAT64 addresses are classified by their embedded IPv4 address', () => {
  for (const [addr, kind] of EMBEDDED) assert.equal(blockedKind(addr), kind, addr);
});

test('address classes', () => {
  for (const [addr, kind] of CASES) assert.equal(blockedKind(addr), kind, addr);
});
