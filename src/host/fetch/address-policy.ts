/**
 * Which resolved addresses a fetch may connect to (docs/permissions.md, docs/security.md).
 * Public addresses always. A non-public one only when the config says so explicitly:
 *
 *   an IP literal (`127.0.0.1`, `[::1]`, `10.0.0.5`)    an allowed_urls entry names that IP literally
 *   `localhost`, for its loopback addresses              an allowed_urls entry names `localhost` literally
 *   any other DNS name, for loopback, private,           `allow_private_networks = true`
 *     link-local and unique-local addresses
 *
 * A DNS name never reaches metadata, unspecified, multicast or reserved addresses: whoever
 * controls the name's DNS would choose where the plugin connects (DNS rebinding), and naming
 * a host in allowed_urls trusts the host, not its DNS.
 */
import { blockedKind, type BlockedKind } from './blocked-networks.js';

export interface HostPolicy {
  /** The URL's host without brackets, lower-case. */
  host: string;
  /** The host is an IP address, not a name. */
  isIp: boolean;
  /** An allowed_urls entry that matches the URL names this host without a glob. */
  namedLiterally: boolean;
  /** permissions.allow_private_networks. */
  allowPrivateNetworks: boolean;
}

/** Address kinds `allow_private_networks` opens to DNS names. */
export const PRIVATE_NETWORK_KINDS: ReadonlySet<BlockedKind> = new Set(['loopback', 'private', 'link-local', 'unique-local']);

export function isLocalhostName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost');
}

/** null when the address may be reached, else why not (for the guest and the log). */
export function refusalFor(policy: HostPolicy, address: string): string | null {
  const kind = blockedKind(address);
  if (kind === null) return null;
  if (policy.isIp) {
    if (policy.namedLiterally) return null;
    return `${policy.host} is ${article(kind)} ${kind} address; plugins may reach it only when an allowed_urls entry names the host literally`;
  }
  if (kind === 'loopback' && policy.namedLiterally && isLocalhostName(policy.host)) return null;
  const what = `${policy.host} resolves to ${address}, which is ${article(kind)} ${kind} address`;
  if (PRIVATE_NETWORK_KINDS.has(kind)) {
    if (policy.allowPrivateNetworks) return null;
    return `${what}; a DNS name may reach private networks only with allow_private_networks = true (or name the IP address in allowed_urls)`;
  }
  return `${what}; a DNS name never reaches it (name the IP address in allowed_urls instead)`;
}

function article(kind: BlockedKind): string {
  return kind === 'unspecified' ? 'an' : 'a';
}
