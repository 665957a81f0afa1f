import { describe, expect, it } from 'vitest';
import { PreviewAddressPolicy, isCidr, parseCidr } from './url-preview-address.js';

describe('PreviewAddressPolicy', () => {
  const policy = new PreviewAddressPolicy();

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
  ])('accepts %s', (address) => {
    expect(policy.isBlocked(address)).toBe(false);
  });

  it('accepts what the allow list names, and only that', () => {
    const allowing = new PreviewAddressPolicy(['127.0.0.1/32', '10.1.0.0/16', '::1']);
    expect(allowing.isBlocked('127.0.0.1')).toBe(false);
    expect(allowing.isBlocked('::ffff:127.0.0.1')).toBe(false);
    expect(allowing.isBlocked('127.0.0.2')).toBe(true);
    expect(allowing.isBlocked('10.1.200.3')).toBe(false);
    expect(allowing.isBlocked('10.2.0.1')).toBe(true);
    expect(allowing.isBlocked('::1')).toBe(false);
    expect(allowing.isBlocked('169.254.169.254')).toBe(true);
  });
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
