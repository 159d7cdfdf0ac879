/**
 * Classifies addresses that are not the public internet (address-policy.ts decides which of
 * them a fetch may reach). Checked on the resolved address (after DNS), and IPv6 forms that
 * embed an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged as that IPv4
 * address, so `::ffff:127.0.0.1` and `64:ff9b::7f00:1` are loopback too.
 */
import { isIP } from 'node:net';

export type BlockedKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unique-local'
  | 'multicast'
  | 'reserved';

type V4Rule = readonly [base: number, prefix: number, kind: BlockedKind];

function v4(text: string): number {
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

// Order matters: the first matching rule names the kind (metadata before link-local).
const V4_RULES: readonly V4Rule[] = [
  [v4('169.254.169.254'), 32, 'metadata'],
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('100.64.0.0'), 10, 'private'], // carrier-grade NAT (shared address space)
  [v4('169.254.0.0'), 16, 'link-local'],
  [v4('192.0.0.0'), 24, 'reserved'], // IETF protocol assignments
  [v4('192.0.2.0'), 24, 'reserved'], // documentation
  [v4('198.51.100.0'), 24, 'reserved'],
  [v4('203.0.113.0'), 24, 'reserved'],
  [v4('198.18.0.0'), 15, 'reserved'], // benchmarking
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'], // includes 255.255.255.255
];

function inV4(addr: number, base: number, prefix: number): boolean {
  if (prefix === 0) return true;
  const mask = prefix === 32 ? 0xffffffff : (~0 << (32 - prefix)) >>> 0;
  return ((addr & mask) >>> 0) === ((base & mask) >>> 0);
}

function blockedV4(addr: number): BlockedKind | null {
  for (const [base, prefix, kind] of V4_RULES) if (inV4(addr, base, prefix)) return kind;
  return null;
}

/** Parses an IPv6 address (zone id stripped, trailing dotted quad allowed) into 8 groups. */
export function parseV6(text: string): number[] | null {
  let s = text.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  const quad = s.slice(lastColon + 1);
  if (quad.includes('.')) {
    // A trailing dotted quad is two groups written differently.
    if (isIP(quad) !== 4) return null;
    const n = v4(quad);
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === null || rest === null) return null;
  const given = head.length + rest.length;
  if (halves.length === 1 && given !== 8) return null;
  if (halves.length === 2 && given > 7) return null;
  const zeros = new Array<number>(8 - given).fill(0);
  return halves.length === 2 ? [...head, ...zeros, ...rest] : head;
}

function embeddedV4(hi: number, lo: number): number {
  return ((hi << 16) | lo) >>> 0;
}

function blockedV6(g: number[]): BlockedKind | null {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return 'unspecified';
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated, RFC 2765) and ::a.b.c.d
  // (compatible, deprecated): judge the IPv4 address.
  if (zeroUpTo(5) && g[5] === 0xffff) return blockedV4(embeddedV4(g[6]!, g[7]!));
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return blockedV4(embeddedV4(g[6]!, g[7]!));
  if (zeroUpTo(6)) return blockedV4(embeddedV4(g[6]!, g[7]!)) ?? 'reserved';
  // NAT64 reaches IPv4 hosts through a gateway: the well-known prefix 64:ff9b::/96 and the
  // local-use 64:ff9b:1::/48 (RFC 8215), read with the IPv4 address in the last 32 bits (the
  // /96 layout gateways use). 6to4 2002::/16 carries it in bits 16-47.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return blockedV4(embeddedV4(g[6]!, g[7]!));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return blockedV4(embeddedV4(g[6]!, g[7]!));
  if (g[0] === 0x2002) return blockedV4(embeddedV4(g[1]!, g[2]!));
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'unique-local'; // fc00::/7
  if ((first & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((first & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 site-local (deprecated)
  if ((first & 0xff00) === 0xff00) return 'multicast';
  if (first === 0x2001 && g[1] === 0x0db8) return 'reserved'; // documentation
  if (first === 0x2001 && g[1] === 0x0000) return 'reserved'; // Teredo: tunnels to hidden IPv4 hosts
  if (first === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return 'reserved'; // discard-only
  return null;
}

/** The kind of non-public network an address belongs to, or null when it is public. Unparseable → 'reserved'. */
export function blockedKind(address: string): BlockedKind | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.split('%')[0]!);
  if (family === 4) return blockedV4(v4(bare));
  const groups = parseV6(bare);
  if (groups === null) return 'reserved';
  return blockedV6(groups);
}
