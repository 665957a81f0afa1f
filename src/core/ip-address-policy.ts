/**
 * Which IP addresses this server may connect to when a remote party chose the destination (SSRF
 * guard for URL previews and for federation over Internet discovery): never this machine, its
 * private networks, link-local (cloud metadata services live at 169.254.169.254), CGNAT,
 * multicast, reserved or documentation ranges, nor the IPv6 forms that reach such an IPv4 host
 * (IPv4-mapped, NAT64, 6to4; Teredo is refused outright), unless the tenant's allow list names
 * them. Pure: the caller resolves names and connects to an address this module accepted.
 */
import { BlockList, isIP } from 'node:net';

/** Ranges never connected to unless allowed (Synapse's default `ip_range_blacklist`, and more). */
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
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64 (RFC 8215): translates into the local network
  ['100::', 64, 'ipv6'], // discard-only
  ['2001::', 32, 'ipv6'], // Teredo: tunnels to any IPv4 host, relayed by whoever (Synapse refuses it)
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part read as two). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    if (isIP(dotted[1]!) !== 4) return undefined;
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.some((g) => Number.isNaN(g) || g < 0 || g > 0xffff) ? undefined : groups;
}

function ipv4Of(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The IPv4 host an IPv6 address reaches, when it embeds one: IPv4-mapped (`::ffff:a.b.c.d`),
 * NAT64 with the well-known prefix (`64:ff9b::/96`, RFC 6052) and 6to4 (`2002:AABB:CCDD::/48`,
 * RFC 3056). Undefined for other addresses.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const g = ipv6Groups(address);
  if (g === undefined) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return ipv4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return ipv4Of(g[1]!, g[2]!);
  return undefined;
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

/** Decides, for one tenant and one purpose, which addresses may be connected to. */
export class IpAddressPolicy {
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
    if (this.#allowed.check(bare, familyOf(bare))) return false;
    // An IPv6 address that reaches an IPv4 host is judged as that host too.
    const ipv4 = embeddedIpv4(bare);
    if (ipv4 !== undefined) {
      if (this.#allowed.check(ipv4, 'ipv4')) return false;
      if (this.#blocked.check(ipv4, 'ipv4')) return true;
    }
    return this.#blocked.check(bare, familyOf(bare));
  }
}
