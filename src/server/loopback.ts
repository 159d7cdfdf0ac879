/**
 * Who may use the admin API: peers whose *socket* address is loopback. Headers such as
 * X-Forwarded-For are never consulted: any client can send them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z or its hex form). */
export function isLoopbackAddress(address: string | undefined | null): boolean {
  if (!address) return false;
  let a = address.trim().toLowerCase();
  // Zone ids (fe80::1%eth0) never denote loopback, but strip them so parsing is uniform.
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (isIPv4(a)) return a.startsWith('127.');
  if (!isIPv6(a)) return false;
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/.exec(a);
  if (!mapped) return false;
  const tail = mapped[1]!;
  if (isIPv4(tail)) return tail.startsWith('127.');
  // ::ffff:7f00:1 is the same address as ::ffff:127.0.0.1.
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(tail);
  return hex !== null && parseInt(hex[1]!, 16) >> 8 === 127;
}
