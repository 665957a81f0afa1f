import { describe, expect, it } from 'vitest';
import { MatrixError } from './errors.js';
import {
  MAX_IDENTIFIER_BYTES,
  MAX_PDU_BYTES,
  isValidEventId,
  isValidKeyId,
  isValidLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseEventId,
  parseKeyId,
  parseRoomAlias,
  parseRoomId,
  parseServerName,
  parseUserId,
  serverNameParts,
} from './identifiers.js';

/** Asserts that `fn` throws M_INVALID_PARAM (HTTP 400) with a message matching `message`. */
function expectInvalid(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MatrixError);
  const error = thrown as MatrixError;
  expect(error.errcode).toBe('M_INVALID_PARAM');
  expect(error.status).toBe(400);
  expect(error.message).toMatch(message);
}

/** A string of exactly `bytes` UTF-8 bytes: `prefix`, then "a"s, then `suffix`. */
const ofBytes = (bytes: number, prefix: string, suffix: string) =>
  prefix + 'a'.repeat(bytes - Buffer.byteLength(prefix + suffix)) + suffix;

const NOT_STRINGS: unknown[] = [undefined, null, 42, {}, ['@a:b'], Symbol('x')];

describe('limits', () => {
  it('match the spec', () => {
    expect(MAX_IDENTIFIER_BYTES).toBe(255);
    expect(MAX_PDU_BYTES).toBe(65536);
  });
});

describe('server names', () => {
  it.each([
    // The appendix's examples.
    ['matrix.org', { host: 'matrix.org', kind: 'dns' }],
    ['matrix.org:8888', { host: 'matrix.org', port: 8888, kind: 'dns' }],
    ['1.2.3.4', { host: '1.2.3.4', kind: 'ipv4' }],
    ['1.2.3.4:1234', { host: '1.2.3.4', port: 1234, kind: 'ipv4' }],
    ['[1234:5678::abcd]', { host: '[1234:5678::abcd]', kind: 'ipv6' }],
    ['[1234:5678::abcd]:5678', { host: '[1234:5678::abcd]', port: 5678, kind: 'ipv6' }],
    // Further valid forms.
    ['[1234:5678::abcd]:8448', { host: '[1234:5678::abcd]', port: 8448, kind: 'ipv6' }],
    ['domain', { host: 'domain', kind: 'dns' }],
    ['localhost:1', { host: 'localhost', port: 1, kind: 'dns' }],
    ['MATRIX.ORG', { host: 'MATRIX.ORG', kind: 'dns' }],
    ['my-server.example.org:65535', { host: 'my-server.example.org', port: 65535, kind: 'dns' }],
    ['255.255.255.255', { host: '255.255.255.255', kind: 'ipv4' }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80, kind: 'ipv4' }],
    ['[::1]:8448', { host: '[::1]', port: 8448, kind: 'ipv6' }],
    ['[::]', { host: '[::]', kind: 'ipv6' }],
    ['[2001:DB8:0:0:8:800:200C:417A]', { host: '[2001:DB8:0:0:8:800:200C:417A]', kind: 'ipv6' }],
    ['[FF01::101]', { host: '[FF01::101]', kind: 'ipv6' }],
    ['[1::]', { host: '[1::]', kind: 'ipv6' }],
    ['[::13.1.68.3]', { host: '[::13.1.68.3]', kind: 'ipv6' }],
    ['[::FFFF:129.144.52.38]:443', { host: '[::FFFF:129.144.52.38]', port: 443, kind: 'ipv6' }],
    ['[0:0:0:0:0:0:13.1.68.3]', { host: '[0:0:0:0:0:0:13.1.68.3]', kind: 'ipv6' }],
  ])('accepts %j', (name, parts) => {
    expect(isValidServerName(name)).toBe(true);
    expect(parseServerName(name)).toBe(name);
    expect(serverNameParts(name)).toEqual(parts);
  });

  it('leaves port out of the parts when there is none', () => {
    expect('port' in serverNameParts('matrix.org')).toBe(false);
  });

  it('accepts DNS names of up to 255 characters', () => {
    expect(isValidServerName('a'.repeat(255))).toBe(true);
    expect(isValidServerName(`${'a'.repeat(255)}:8448`)).toBe(true);
    expectInvalid(() => parseServerName('a'.repeat(256)), /longer than 255 characters/);
  });

  it.each([
    ['', /server name: empty/],
    [':8448', /hostname is empty/],
    ['matrix.org:', /port must be 1 to 5 digits/],
    ['matrix.org:123456', /port must be 1 to 5 digits/],
    ['matrix.org:80a', /port must be 1 to 5 digits/],
    ['matrix.org:-1', /port must be 1 to 5 digits/],
    ['matrix.org: 80', /port must be 1 to 5 digits/],
    ['matrix.org:80:90', /port must be 1 to 5 digits/],
    ['exa mple.org', /hostname may only contain/],
    ['example_org', /hostname may only contain/],
    ['user@example.org', /hostname may only contain/],
    ['example.org/path', /hostname may only contain/],
    ['bücher.example', /hostname may only contain/],
    ['256.1.1.1', /IPv4 literal has a number above 255/],
    ['1.2.3.999:80', /IPv4 literal has a number above 255/],
    ['1234:5678::abcd', /port must be 1 to 5 digits/], // an IPv6 address needs brackets
    ['[1234:5678::abcd', /no closing "\]"/],
    ['[1234:5678::abcd]8448', /unexpected characters after the IPv6 literal/],
    ['[1234:5678::abcd]:', /port must be 1 to 5 digits/],
    ['[]', /not a valid IPv6 literal/],
    ['[:]', /not a valid IPv6 literal/],
    ['[1]', /not a valid IPv6 literal/],
    ['[1234:5678::abcg]', /not a valid IPv6 literal/],
    ['[1::2::3]', /not a valid IPv6 literal/],
    ['[1:::2]', /not a valid IPv6 literal/],
    ['[:1:2:3:4:5:6:7]', /not a valid IPv6 literal/],
    ['[1:2:3:4:5:6:7]', /not a valid IPv6 literal/],
    ['[1:2:3:4:5:6:7:8:9]', /not a valid IPv6 literal/],
    ['[1:2:3:4:5:6:7::8]', /not a valid IPv6 literal/],
    ['[12345::1]', /not a valid IPv6 literal/],
    ['[1.2.3.4]', /not a valid IPv6 literal/],
    ['[::1.2.3.256]', /not a valid IPv6 literal/],
    ['[::1.2.3.4:5]', /not a valid IPv6 literal/],
    ['[fe80::1%eth0]', /not a valid IPv6 literal/],
    ['[[::1]]', /not a valid IPv6 literal/],
  ])('rejects %j', (name, message) => {
    expect(isValidServerName(name)).toBe(false);
    expectInvalid(() => parseServerName(name), message);
    expectInvalid(() => serverNameParts(name), /^Invalid server name: /);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) {
      expect(isValidServerName(value)).toBe(false);
      expectInvalid(() => parseServerName(value), /not a string/);
    }
  });
});

describe('user IDs', () => {
  it.each([
    ['@user:matrix.org', 'user', 'matrix.org'],
    ['@john.doe:example.com', 'john.doe', 'example.com'],
    ['@a:domain', 'a', 'domain'],
    ['@u:domain', 'u', 'domain'],
    ['@user:MATRIX.ORG', 'user', 'MATRIX.ORG'],
    ['@0-9._=-/+:1.2.3.4:1234', '0-9._=-/+', '1.2.3.4:1234'],
    ['@alice:[1234:5678::abcd]:8448', 'alice', '[1234:5678::abcd]:8448'],
    ['@_bridge_=40foo:example.org', '_bridge_=40foo', 'example.org'],
  ])('accepts %j in every grammar', (userId, localpart, serverName) => {
    for (const grammar of ['current', 'compliant', 'historical'] as const) {
      expect(isValidUserId(userId, grammar)).toBe(true);
      expect(parseUserId(userId, grammar)).toEqual({ userId, localpart, serverName });
    }
  });

  it.each([
    ['@User:matrix.org', 'User'],
    ['@alice!*~:example.org', 'alice!*~'],
    ['@"quoted"#:example.org', '"quoted"#'],
  ])('accepts %j as compliant and historical but not current', (userId, localpart) => {
    expect(parseUserId(userId, 'compliant').localpart).toBe(localpart);
    expect(parseUserId(userId).localpart).toBe(localpart);
    expectInvalid(
      () => parseUserId(userId, 'current'),
      /localpart may only contain a-z, 0-9, "\.", "_", "=", "-", "\/" and "\+"/,
    );
  });

  it.each([
    ['@:example.org', ''],
    ['@with space:example.org', 'with space'],
    ['@tab\there:example.org', 'tab\there'],
    ['@del\u007f:example.org', 'del\u007f'],
    ['@ü:example.org', 'ü'],
    ['@日本:example.org', '日本'],
    ['@😀:example.org', '😀'],
  ])('accepts %j only under the historical grammar (the default)', (userId, localpart) => {
    expect(parseUserId(userId)).toEqual({ userId, localpart, serverName: 'example.org' });
    expect(isValidUserId(userId, 'historical')).toBe(true);
    expect(isValidUserId(userId, 'compliant')).toBe(false);
    expect(isValidUserId(userId, 'current')).toBe(false);
  });

  it('names an empty localpart in the stricter grammars', () => {
    expectInvalid(() => parseUserId('@:example.org', 'current'), /localpart is empty/);
    expectInvalid(() => parseUserId('@:example.org', 'compliant'), /localpart is empty/);
    expectInvalid(() => parseUserId('@ü:example.org', 'compliant'), /outside U\+0021 to U\+007E/);
  });

  it.each([
    ['user:matrix.org', /Invalid user ID: must start with "@"/],
    ['#user:matrix.org', /must start with "@"/],
    ['@user', /no ":" before the server name/],
    ['@user:', /server name: empty/],
    ['@user:bad_server', /server name: hostname may only contain/],
    ['@user:matrix.org:99999999', /server name: port must be 1 to 5 digits/],
    ['@nul\u0000:example.org', /localpart contains NUL/],
    ['@\ud800:example.org', /localpart contains a lone surrogate/],
    ['@a\udc00b:example.org', /localpart contains a lone surrogate/],
  ])('rejects %j under every grammar', (userId, message) => {
    for (const grammar of ['current', 'compliant', 'historical'] as const) {
      expect(isValidUserId(userId, grammar)).toBe(false);
    }
    expectInvalid(() => parseUserId(userId), message);
  });

  it('allows at most 255 bytes, counted in UTF-8', () => {
    const longest = ofBytes(255, '@', ':example.org');
    expect(parseUserId(longest, 'current').userId).toBe(longest);
    expectInvalid(() => parseUserId(ofBytes(256, '@', ':example.org')), /longer than 255 bytes/);
    // 140 UTF-16 code units but 267 bytes.
    const multibyte = `@${'é'.repeat(127)}:example.org`;
    expect(multibyte.length).toBeLessThan(255);
    expect(isValidUserId(multibyte)).toBe(false);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) {
      expect(isValidUserId(value)).toBe(false);
      expectInvalid(() => parseUserId(value), /not a string/);
    }
  });
});

describe('isValidLocalpart', () => {
  it.each(['alice', 'a', '0123', 'a.b_c=d-e/f+g', '_bridge_=40foo'])('accepts %j', (localpart) => {
    expect(isValidLocalpart(localpart)).toBe(true);
  });

  it.each(['', 'Alice', 'al ice', 'al:ice', 'a*', 'a#b', 'é', '@alice', 'a\u0000'])(
    'rejects %j',
    (localpart) => {
      expect(isValidLocalpart(localpart)).toBe(false);
    },
  );
});

describe('room IDs', () => {
  it.each([
    ['!opaque:example.org', 'opaque', 'example.org'],
    ['!x:domain', 'x', 'domain'],
    ['!r:domain', 'r', 'domain'],
    ['!AbC123:matrix.org:8448', 'AbC123', 'matrix.org:8448'],
    ['!room:[1234:5678::abcd]:8448', 'room', '[1234:5678::abcd]:8448'],
    ['!ünïcødé+/ \t:example.org', 'ünïcødé+/ \t', 'example.org'],
    ['!:example.org', '', 'example.org'],
  ])('accepts %j with a domain (room versions 1-11)', (roomId, opaque, serverName) => {
    expect(isValidRoomId(roomId)).toBe(true);
    expect(parseRoomId(roomId)).toEqual({ roomId, kind: 'domain', opaque, serverName });
  });

  it('accepts the v12 form: "!" and the URL-safe hash of the create event', () => {
    // From the spec's v12 PDU example.
    const roomId = '!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ';
    expect(isValidRoomId(roomId)).toBe(true);
    expect(parseRoomId(roomId)).toEqual({ roomId, kind: 'hash', hash: roomId.slice(1) });
    expect(isValidRoomId(`!${'_'.repeat(43)}`)).toBe(true);
  });

  it.each([
    ['opaque:example.org', /Invalid room ID: must start with "!"/],
    ['$opaque:example.org', /must start with "!"/],
    ['!', /"!" and 43 URL-safe base64 characters/],
    ['!opaque', /"!" and 43 URL-safe base64 characters/],
    [`!${'a'.repeat(42)}`, /43 URL-safe base64 characters/],
    [`!${'a'.repeat(44)}`, /43 URL-safe base64 characters/],
    [`!${'a'.repeat(42)}+`, /43 URL-safe base64 characters/], // v12 uses the URL-safe alphabet
    [`!${'a'.repeat(42)}/`, /43 URL-safe base64 characters/],
    [`!${'a'.repeat(41)}A=`, /43 URL-safe base64 characters/],
    ['!opaque:', /server name: empty/],
    ['!opaque:exa mple.org', /server name: hostname may only contain/],
    ['!a\u0000b:example.org', /localpart contains NUL/],
    ['!\udbff:example.org', /lone surrogate/],
  ])('rejects %j', (roomId, message) => {
    expect(isValidRoomId(roomId)).toBe(false);
    expectInvalid(() => parseRoomId(roomId), message);
  });

  it('allows at most 255 bytes including sigil and domain', () => {
    expect(isValidRoomId(ofBytes(255, '!', ':example.org'))).toBe(true);
    expectInvalid(() => parseRoomId(ofBytes(256, '!', ':example.org')), /longer than 255 bytes/);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) expect(isValidRoomId(value)).toBe(false);
    expectInvalid(() => parseRoomId(7), /not a string/);
  });
});

describe('event IDs', () => {
  // The room version specs' examples.
  const V3 = '$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk';
  const V3_ALPHANUMERIC = '$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o';
  const V4 = '$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg';

  it.each([
    ['$randomstring:example.org', 'randomstring', 'example.org'],
    ['$0:domain', '0', 'domain'],
    ['$abc/+=:[::1]:8448', 'abc/+=', '[::1]:8448'],
  ])('accepts %j in the domain format (room versions 1-2)', (eventId, opaque, serverName) => {
    expect(parseEventId(eventId)).toEqual({ eventId, kind: 'domain', opaque, serverName });
    expect(parseEventId(eventId, 'domain').kind).toBe('domain');
    expect(isValidEventId(eventId, 'base64')).toBe(false);
    expect(isValidEventId(eventId, 'base64url')).toBe(false);
  });

  it('accepts the v3 example only in the standard alphabet', () => {
    expect(parseEventId(V3)).toEqual({ eventId: V3, kind: 'hash', hash: V3.slice(1) });
    expect(isValidEventId(V3, 'base64')).toBe(true);
    expectInvalid(
      () => parseEventId(V3, 'base64url'),
      /43 characters of the URL-safe base64 alphabet/,
    );
    expectInvalid(() => parseEventId(V3, 'domain'), /no ":" before the server name/);
  });

  it('accepts the v4 example only in the URL-safe alphabet', () => {
    expect(parseEventId(V4)).toEqual({ eventId: V4, kind: 'hash', hash: V4.slice(1) });
    expect(isValidEventId(V4, 'base64url')).toBe(true);
    expectInvalid(
      () => parseEventId(V4, 'base64'),
      /43 characters of the standard base64 alphabet/,
    );
  });

  it('accepts an alphanumeric hash in both alphabets', () => {
    expect(isValidEventId(V3_ALPHANUMERIC, 'base64')).toBe(true);
    expect(isValidEventId(V3_ALPHANUMERIC, 'base64url')).toBe(true);
    expect(isValidEventId(V3_ALPHANUMERIC, 'domain')).toBe(false);
  });

  it.each([
    ['acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk', /Invalid event ID: must start with "\$"/],
    ['!x:domain', /must start with "\$"/],
    ['$', /one base64 alphabet, or "\$opaque:server"/],
    [V3.slice(0, -1), /one base64 alphabet/],
    [`${V3}A`, /one base64 alphabet/],
    [`${V4.slice(0, -1)}=`, /one base64 alphabet/],
    [`$${'a'.repeat(41)}+-`, /one base64 alphabet/], // mixes the two alphabets
    ['$abc:', /server name: empty/],
    ['$abc:bad_server', /server name: hostname may only contain/],
    ['$a\u0000:domain', /localpart contains NUL/],
    ['$\ud800:domain', /lone surrogate/],
  ])('rejects %j', (eventId, message) => {
    expect(isValidEventId(eventId)).toBe(false);
    expectInvalid(() => parseEventId(eventId), message);
  });

  it('rejects a domain event ID where a hash is expected', () => {
    expectInvalid(
      () => parseEventId('$abc:example.org', 'base64url'),
      /expected a base64url hash but found a server name/,
    );
  });

  it('allows at most 255 bytes including sigil and domain', () => {
    expect(isValidEventId(ofBytes(255, '$', ':example.org'))).toBe(true);
    expectInvalid(() => parseEventId(ofBytes(256, '$', ':example.org')), /longer than 255 bytes/);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) expect(isValidEventId(value)).toBe(false);
    expectInvalid(() => parseEventId(null), /not a string/);
  });
});

describe('room aliases', () => {
  it.each([
    ['#room:example.org', 'room', 'example.org'],
    ['#room_alias:domain', 'room_alias', 'domain'],
    ['#Mixed.Case-ü 日本:matrix.org:8448', 'Mixed.Case-ü 日本', 'matrix.org:8448'],
    ['#room:[1234:5678::abcd]', 'room', '[1234:5678::abcd]'],
    ['#:example.org', '', 'example.org'],
  ])('accepts %j', (alias, localpart, serverName) => {
    expect(isValidRoomAlias(alias)).toBe(true);
    expect(parseRoomAlias(alias)).toEqual({ alias, localpart, serverName });
  });

  it.each([
    ['room:example.org', /Invalid room alias: must start with "#"/],
    ['!room:example.org', /must start with "#"/],
    ['#room', /no ":" before the server name/],
    ['#room:', /server name: empty/],
    ['#room:256.0.0.1', /server name: IPv4 literal has a number above 255/],
    ['#a\u0000:example.org', /localpart contains NUL/],
    ['#\udc00:example.org', /lone surrogate/],
  ])('rejects %j', (alias, message) => {
    expect(isValidRoomAlias(alias)).toBe(false);
    expectInvalid(() => parseRoomAlias(alias), message);
  });

  it('allows at most 255 bytes including sigil and domain', () => {
    expect(isValidRoomAlias(ofBytes(255, '#', ':example.org'))).toBe(true);
    expectInvalid(() => parseRoomAlias(ofBytes(256, '#', ':example.org')), /longer than 255 bytes/);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) expect(isValidRoomAlias(value)).toBe(false);
    expectInvalid(() => parseRoomAlias({}), /not a string/);
  });
});

describe('key IDs', () => {
  it.each([
    ['ed25519:1', 'ed25519', '1'],
    ['ed25519:abc123', 'ed25519', 'abc123'],
    ['ed25519:0ldK3y', 'ed25519', '0ldK3y'],
    ['ed25519:a_b_C', 'ed25519', 'a_b_C'],
    ['ed25519:policy_server', 'ed25519', 'policy_server'],
  ])('accepts %j', (keyId, algorithm, version) => {
    expect(isValidKeyId(keyId)).toBe(true);
    expect(parseKeyId(keyId)).toEqual({ keyId, algorithm, version });
  });

  it.each([
    ['ed25519', /must be "algorithm:version"/],
    ['ed25519:', /version must be one or more of/],
    [':1', /algorithm must be one or more of/],
    ['ed 25519:1', /algorithm must be one or more of/],
    ['ed25519:a-b', /version must be one or more of A-Z, a-z, 0-9 and "_"/],
    ['ed25519:a:b', /version must be one or more of/],
    ['ed25519:a+b/c', /version must be one or more of/],
    ['ed25519:ü', /version must be one or more of/],
  ])('rejects %j', (keyId, message) => {
    expect(isValidKeyId(keyId)).toBe(false);
    expectInvalid(() => parseKeyId(keyId), message);
  });

  it('rejects values that are not strings', () => {
    for (const value of NOT_STRINGS) expect(isValidKeyId(value)).toBe(false);
    expectInvalid(() => parseKeyId(1), /not a string/);
  });
});
