/**
 * Which IP addresses a URL preview may connect to (SSRF guard): never this machine, its private
 * networks, link-local (cloud metadata services live at 169.254.169.254), CGNAT, multicast,
 * reserved or documentation ranges, nor their IPv4-mapped IPv6 forms, unless the tenant's
 * `url_preview_ip_allowlist` names them. Pure: the caller resolves names and connects to an
 * address this module accepted.
 */
import { BlockList, isIP } from 'node:net';

/** Ranges never fetched from unless allowed (Synapse's default `ip_range_blacklist`, and more). */
const BLOCKED_RANGES: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], // "this network", unspecified
  ['10.0.0.0', 8, 'ipv4'], // private (RFC 1918)
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local (and cloud metadata)
  ['172.16.0.0', 12, 'ipv4'], // private (RFC 1918)
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.0.2.0', 24, 'ipv4'], // documentation
  ['192.88.99.0', 24, 'ipv4'], // 6to4 relay anycast
  ['192.168.0.0', 16, 'ipv4'], // private (RFC 1918)
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['198.51.100.0', 24, 'ipv4'], // documentation
  ['203.0.113.0', 24, 'ipv4'], // documentation
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback, deprecated IPv4-compatible addresses
  ['100::', 64, 'ipv6'], // discard-only
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

/** An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d` or `::ffff:XXXX:XXXX`), as IPv4. */
function unmapIpv4(address: string): string | undefined {
  const match = /^::ffff:(?:0{1,4}:)?(.+)$/i.exec(address);
  if (match === null) return undefined;
  const rest = match[1]!;
  if (isIP(rest) === 4) return rest;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(rest);
  if (hex === null) return undefined;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (a single host); throws on anything else. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } {
  const [address = '', prefixText, ...extra] = cidr.trim().split('/');
  const family = isIP(address);
  if ((family !== 4 && family !== 6) || extra.length > 0) {
    throw new Error(`not a CIDR range: ${cidr}`);
  }
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
    throw new Error(`not a CIDR range: ${cidr}`);
  }
  return { address, prefix, family };
}

/** Whether a string is a CIDR range (or a bare address) as `parseCidr` reads it. */
export function isCidr(cidr: string): boolean {
  try {
    parseCidr(cidr);
    return true;
  } catch {
    return false;
  }
}

/** Decides, for one tenant, which addresses URL previews may connect to. */
export class PreviewAddressPolicy {
  readonly #blocked = new BlockList();
  readonly #allowed = new BlockList();

  /** `allowlist`: CIDR ranges (or addresses) allowed even though blocked by default. */
  constructor(allowlist: readonly string[] = []) {
    for (const [address, prefix, family] of BLOCKED_RANGES) {
      this.#blocked.addSubnet(address, prefix, family);
    }
    for (const cidr of allowlist) {
      const range = parseCidr(cidr);
      this.#allowed.addSubnet(range.address, range.prefix, range.family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** Whether a connection to this IP address is refused. Anything that is not an IP is. */
  isBlocked(address: string): boolean {
    const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
    if (isIP(bare) === 0) return true;
    // An IPv4-mapped IPv6 address reaches the IPv4 host: judge it as that host.
    const effective = unmapIpv4(bare) ?? bare;
    const family = familyOf(effective);
    if (this.#allowed.check(effective, family)) return false;
    return this.#blocked.check(effective, family);
  }
}
