import { describe, expect, it } from 'vitest';
import { plainAddress, TrustedProxies } from './trusted-proxies.js';

describe('TrustedProxies', () => {
  it('trusts nobody when empty', () => {
    const none = TrustedProxies.parse([]);
    expect(none.includes('127.0.0.1')).toBe(false);
    expect(none.includes(undefined)).toBe(false);
  });

  it('matches single addresses and CIDR ranges, IPv4 and IPv6', () => {
    const trusted = TrustedProxies.parse(['10.1.2.3', '192.168.0.0/16', '::1', 'fd00::/8']);
    expect(trusted.includes('10.1.2.3')).toBe(true);
    expect(trusted.includes('10.1.2.4')).toBe(false);
    expect(trusted.includes('192.168.77.1')).toBe(true);
    expect(trusted.includes('192.169.0.1')).toBe(false);
    expect(trusted.includes('::1')).toBe(true);
    expect(trusted.includes('fd12:3456::1')).toBe(true);
    expect(trusted.includes('fe80::1')).toBe(false);
  });

  it('sees IPv4-mapped IPv6 peers (dual-stack listeners) as IPv4', () => {
    const trusted = TrustedProxies.parse(['127.0.0.0/8']);
    expect(trusted.includes('::ffff:127.0.0.2')).toBe(true);
    expect(trusted.includes('::FFFF:10.0.0.1')).toBe(false);
  });

  it('takes /0 and full-length prefixes', () => {
    expect(TrustedProxies.parse(['0.0.0.0/0']).includes('8.8.8.8')).toBe(true);
    expect(TrustedProxies.parse(['10.0.0.1/32']).includes('10.0.0.1')).toBe(true);
    expect(TrustedProxies.parse(['::1/128']).includes('::1')).toBe(true);
  });

  it('refuses what is not an address or a range', () => {
    for (const bad of ['proxy.example', '10.0.0.0/33', '::/129', '10.0.0.0/', '1.2.3.4/8/1', '']) {
      expect(() => TrustedProxies.parse([bad]), bad).toThrow(/--trusted-proxy/);
    }
  });

  it('ignores peers that are not addresses', () => {
    expect(TrustedProxies.parse(['0.0.0.0/0']).includes('')).toBe(false);
  });
});

describe('plainAddress', () => {
  it('unwraps IPv4-mapped addresses and drops IPv6 zones', () => {
    expect(plainAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(plainAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(plainAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
