import { describe, expect, it } from 'vitest';
import { globToRegExp, hostOfServerName, isIpLiteral, serverAclAllows } from './server-acl.js';

// The spec's example event (m.room.server_acl).
const SPEC_EXAMPLE = { allow_ip_literals: false, allow: ['*'], deny: ['*.evil.com', 'evil.com'] };

describe('server ACLs', () => {
  it('allows every server when the room has no ACL', () => {
    expect(serverAclAllows(undefined, 'evil.com')).toBe(true);
    expect(serverAclAllows(undefined, '1.2.3.4')).toBe(true);
  });

  it("applies the spec's example", () => {
    expect(serverAclAllows(SPEC_EXAMPLE, 'good.org')).toBe(true);
    expect(serverAclAllows(SPEC_EXAMPLE, 'evil.com')).toBe(false);
    expect(serverAclAllows(SPEC_EXAMPLE, 'sub.evil.com')).toBe(false);
    expect(serverAclAllows(SPEC_EXAMPLE, 'deep.sub.evil.com')).toBe(false);
    // Not a subdomain: `*.evil.com` needs the dot.
    expect(serverAclAllows(SPEC_EXAMPLE, 'notevil.com')).toBe(true);
    expect(serverAclAllows(SPEC_EXAMPLE, '1.2.3.4')).toBe(false);
    expect(serverAclAllows(SPEC_EXAMPLE, '[2001:db8::1]:8448')).toBe(false);
  });

  it('ignores the port: evil.com, evil.com:8448 and evil.com:1234 all match evil.com', () => {
    for (const name of ['evil.com', 'evil.com:8448', 'evil.com:1234']) {
      expect(serverAclAllows(SPEC_EXAMPLE, name)).toBe(false);
    }
    expect(serverAclAllows({ allow: ['good.org'] }, 'good.org:8448')).toBe(true);
  });

  it('matches case-insensitively', () => {
    expect(serverAclAllows(SPEC_EXAMPLE, 'EVIL.com')).toBe(false);
    expect(serverAclAllows({ allow: ['Good.ORG'] }, 'good.org')).toBe(true);
  });

  it('denies everything without an allow list, even the sender', () => {
    expect(serverAclAllows({}, 'good.org')).toBe(false);
    expect(serverAclAllows({ deny: [] }, 'good.org')).toBe(false);
    expect(serverAclAllows({ allow: 'not a list' }, 'good.org')).toBe(false);
  });

  it('puts deny before allow', () => {
    expect(serverAclAllows({ allow: ['evil.com'], deny: ['evil.com'] }, 'evil.com')).toBe(false);
  });

  it('allows IP literals unless allow_ip_literals is exactly false', () => {
    expect(serverAclAllows({ allow: ['*'] }, '1.2.3.4')).toBe(true);
    expect(serverAclAllows({ allow: ['*'], allow_ip_literals: 'no' }, '1.2.3.4:80')).toBe(true);
    expect(serverAclAllows({ allow: ['*'], allow_ip_literals: true }, '[::1]')).toBe(true);
    expect(serverAclAllows({ allow: ['*'], allow_ip_literals: false }, '[::1]')).toBe(false);
    expect(serverAclAllows({ allow: ['1.2.3.*'] }, '1.2.3.4')).toBe(true);
  });

  it('matches ? to exactly one character and escapes regex characters', () => {
    expect(serverAclAllows({ allow: ['?.org'] }, 'a.org')).toBe(true);
    expect(serverAclAllows({ allow: ['?.org'] }, 'ab.org')).toBe(false);
    expect(serverAclAllows({ allow: ['?.org'] }, '.org')).toBe(false);
    // `.` is literal, not "any character".
    expect(serverAclAllows({ allow: ['a.org'] }, 'aborg')).toBe(false);
    expect(globToRegExp('a+b(c)').test('a+b(c)')).toBe(true);
    expect(serverAclAllows({ allow: ['*'], deny: ['evil.com', 42] }, 'evil.com')).toBe(false);
  });

  it('reads hosts and IP literals', () => {
    expect(hostOfServerName('example.org:8448')).toBe('example.org');
    expect(hostOfServerName('[1234:5678::abcd]:8448')).toBe('[1234:5678::abcd]');
    expect(hostOfServerName('example.org')).toBe('example.org');
    expect(isIpLiteral('1.2.3.4')).toBe(true);
    expect(isIpLiteral('[::1]')).toBe(true);
    expect(isIpLiteral('example.org')).toBe(false);
    expect(isIpLiteral('1.2.3.4.example.org')).toBe(false);
  });
});
