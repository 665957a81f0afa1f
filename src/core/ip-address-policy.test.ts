import { describe, expect, it } from 'vitest';
import { IpAddressPolicy, embeddedIpv4, isCidr, parseCidr } from './ip-address-policy.js';

describe('IpAddressPolicy', () => {
  const policy = new IpAddressPolicy();

  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    'localhost',
    'not an address',
    // NAT64 (well-known prefix) wrapping loopback, private, link-local IPv4
    '64:ff9b::7f00:1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:1',
    '64:ff9b::a9fe:a9fe',
    // local-use NAT64: refused whatever it embeds
    '64:ff9b:1::a00:1',
    '64:ff9b:1:808:8:800::',
    // 6to4 wrapping loopback, private, link-local IPv4
    '2002:7f00:1::',
    '2002:a00:1::1',
    '2002:c0a8:101:1::1',
    '2002:a9fe:a9fe::',
    // Teredo: refused outright
    '2001::1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  ])('refuses %s', (address) => {
    expect(policy.isBlocked(address)).toBe(true);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '100.128.0.1',
    '172.32.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '2001:4860:4860::8888',
  ])('accepts %s', (address) => {
    expect(policy.isBlocked(address)).toBe(false);
  });

  it('accepts what the allow list names, and only that', () => {
    const allowing = new IpAddressPolicy(['127.0.0.1/32', '10.1.0.0/16', '::1']);
    expect(allowing.isBlocked('127.0.0.1')).toBe(false);
    expect(allowing.isBlocked('::ffff:127.0.0.1')).toBe(false);
    expect(allowing.isBlocked('127.0.0.2')).toBe(true);
    expect(allowing.isBlocked('10.1.200.3')).toBe(false);
    expect(allowing.isBlocked('10.2.0.1')).toBe(true);
    expect(allowing.isBlocked('::1')).toBe(false);
    expect(allowing.isBlocked('169.254.169.254')).toBe(true);
  });

  it('allows a wrapped IPv4 host when the allow list names the IPv4 host or the IPv6 address', () => {
    expect(new IpAddressPolicy(['10.0.0.0/8']).isBlocked('64:ff9b::a00:1')).toBe(false);
    expect(new IpAddressPolicy(['10.0.0.0/8']).isBlocked('2002:a00:1::1')).toBe(false);
    expect(new IpAddressPolicy(['2001::/32']).isBlocked('2001::1')).toBe(false);
    expect(new IpAddressPolicy(['10.0.0.0/8']).isBlocked('2002:c0a8:101::1')).toBe(true);
  });
});

describe('embeddedIpv4', () => {
  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['64:ff9b::a9fe:a9fe', '169.254.169.254'],
    ['64:FF9B::10.1.2.3', '10.1.2.3'],
    ['2002:c0a8:101::', '192.168.1.1'],
    ['2002:0a00:0001:ffff::1', '10.0.0.1'],
  ])('reads %s as %s', (address, ipv4) => {
    expect(embeddedIpv4(address)).toBe(ipv4);
  });

  it.each(['2001:db8::1', '64:ff9b:0:1::1', '8.8.8.8', '::1', 'nonsense'])(
    'finds none in %s',
    (address) => {
      expect(embeddedIpv4(address)).toBeUndefined();
    },
  );
});

describe('parseCidr', () => {
  it('reads ranges and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 4 });
    expect(parseCidr('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, family: 6 });
    expect(parseCidr('127.0.0.1')).toEqual({ address: '127.0.0.1', prefix: 32, family: 4 });
  });

  it.each(['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/1', '10.0.0.0/x'])(
    'refuses %j',
    (cidr) => {
      expect(isCidr(cidr)).toBe(false);
    },
  );
});
