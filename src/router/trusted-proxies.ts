import { BlockList, isIP } from 'node:net';

/**
 * The peers whose forwarding headers (`X-Forwarded-Host`, `-For`, `-Proto`) the router believes:
 * addresses and CIDR ranges, IPv4 or IPv6. Anyone else could write those headers to pose as
 * another client.
 */
export class TrustedProxies {
  private constructor(
    private readonly list: BlockList,
    readonly entries: readonly string[],
  ) {}

  /** Parses `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`…; throws on anything else. */
  static parse(entries: readonly string[]): TrustedProxies {
    const list = new BlockList();
    for (const entry of entries) {
      const [address = '', prefixText, extra] = entry.trim().split('/');
      const family = isIP(address);
      const type = family === 6 ? 'ipv6' : 'ipv4';
      const maxPrefix = family === 6 ? 128 : 32;
      const prefix = prefixText === undefined ? undefined : Number(prefixText);
      const validPrefix =
        prefix === undefined ||
        (/^\d{1,3}$/.test(prefixText ?? '') && prefix >= 0 && prefix <= maxPrefix);
      if (family === 0 || extra !== undefined || !validPrefix) {
        throw new Error(
          `--trusted-proxy wants an IP address or a CIDR range (10.0.0.0/8, fd00::/8), not "${entry}"`,
        );
      }
      if (prefix === undefined) list.addAddress(address, type);
      else list.addSubnet(address, prefix, type);
    }
    return new TrustedProxies(list, [...entries]);
  }

  /** Whether a TCP peer address (as node reports it) is a trusted proxy. */
  includes(address: string | undefined): boolean {
    if (this.entries.length === 0 || address === undefined) return false;
    const peer = plainAddress(address);
    const family = isIP(peer);
    if (family === 0) return false;
    return this.list.check(peer, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/**
 * A peer address as clients think of it: IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack
 * listener reports) as plain IPv4, without an IPv6 zone (`fe80::1%eth0`).
 */
export function plainAddress(address: string): string {
  const withoutZone = address.split('%')[0] ?? address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(withoutZone);
  return mapped ? (mapped[1] as string) : withoutZone;
}
