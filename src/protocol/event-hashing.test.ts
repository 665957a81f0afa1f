import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../core/base64.js';
import type { JsonObject } from '../core/canonical-json.js';
import {
  addContentHash,
  checkContentHash,
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeV12RoomId,
  generateLegacyEventId,
} from './event-hashing.js';
import { getRoomVersion } from './room-versions.js';
import type { RoomVersion } from './room-versions.js';

function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (v === undefined) throw new Error(`missing room version ${id}`);
  return v;
}

// appendices "Event Signing": the minimal event as given, and its expected signed form.
const MINIMAL_EVENT: JsonObject = {
  room_id: '!x:domain',
  sender: '@a:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: 'X',
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
};
const MINIMAL_EVENT_SIGNED: JsonObject = {
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
  origin: 'domain',
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: '!x:domain',
  sender: '@a:domain',
  signatures: {
    domain: {
      'ed25519:1':
        'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg',
    },
  },
  type: 'X',
  unsigned: { age_ts: 1000000 },
};

// appendices "Event Signing": the event with redactable content.
const MESSAGE_EVENT: JsonObject = {
  content: { body: 'Here is the message content' },
  event_id: '$0:domain',
  origin: 'domain',
  origin_server_ts: 1000000,
  type: 'm.room.message',
  room_id: '!r:domain',
  sender: '@u:domain',
  signatures: {},
  unsigned: { age_ts: 1000000 },
};

// A v4+ style PDU whose reference hash has '+' and '/' in standard base64. The expected IDs below
// were computed independently (Python hashlib + json.dumps(sort_keys=True, separators=(',',':'))).
const PDU: JsonObject = {
  type: 'm.room.message',
  room_id: '!r:example.org',
  sender: '@u:example.org',
  origin: 'example.org',
  origin_server_ts: 1700000000007,
  depth: 7,
  prev_events: ['$prev'],
  auth_events: ['$create', '$power', '$member'],
  content: { msgtype: 'm.text', body: 'hi' },
  hashes: { sha256: 'PRCDiHNJ0/6WrKeKFqoN/S1vK2UgizxA8OIeSLI1MW0' },
  unsigned: { age_ts: 1700000000007 },
};

// A v12 create event (no room_id); room ID computed independently as above.
const CREATE_EVENT: JsonObject = {
  type: 'm.room.create',
  state_key: '',
  sender: '@alice:example.org',
  content: {
    room_version: '12',
    additional_creators: ['@bob:example.org'],
    'm.federate': true,
  },
  origin_server_ts: 1700000000000,
  depth: 1,
  prev_events: [],
  auth_events: [],
  hashes: { sha256: 'DP7cr34JFYLi2fGwzpYpCDPggrnqeA+sWHxoo5A+chw' },
  unsigned: { age_ts: 1700000000000 },
};
const CREATE_ROOM_ID = '!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM';

describe('content hash', () => {
  it('matches the spec vectors', () => {
    expect(encodeBase64(computeContentHash(MINIMAL_EVENT))).toBe(
      '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos',
    );
    expect(encodeBase64(computeContentHash(MESSAGE_EVENT))).toBe(
      'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g',
    );
  });

  it('ignores unsigned, signatures and existing hashes', () => {
    const noisy = {
      ...MINIMAL_EVENT,
      unsigned: { age: 5 },
      signatures: { x: { 'ed25519:a': 'b' } },
      hashes: { sha256: 'old', sha512: 'other' },
    };
    expect(computeContentHash(noisy)).toEqual(computeContentHash(MINIMAL_EVENT));
  });

  it('covers redactable content', () => {
    const edited = { ...MESSAGE_EVENT, content: { body: 'Edited' } };
    expect(computeContentHash(edited)).not.toEqual(computeContentHash(MESSAGE_EVENT));
  });

  it('addContentHash sets hashes.sha256 on a copy', () => {
    const before = structuredClone(MINIMAL_EVENT);
    const hashed = addContentHash(MINIMAL_EVENT);
    expect(hashed.hashes).toEqual({ sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' });
    expect(MINIMAL_EVENT).toEqual(before);
    expect(addContentHash({ ...MINIMAL_EVENT, hashes: { sha256: 'stale' } })).toEqual(hashed);
  });

  it('checkContentHash accepts the spec output, also with changed unsigned or signatures', () => {
    expect(checkContentHash(MINIMAL_EVENT_SIGNED)).toBe(true);
    expect(checkContentHash({ ...MINIMAL_EVENT_SIGNED, unsigned: {}, signatures: {} })).toBe(true);
    expect(checkContentHash(addContentHash(MESSAGE_EVENT))).toBe(true);
  });

  it('checkContentHash rejects edited events', () => {
    expect(checkContentHash({ ...MINIMAL_EVENT_SIGNED, content: { body: 'x' } })).toBe(false);
    expect(checkContentHash({ ...MINIMAL_EVENT_SIGNED, depth: 4 })).toBe(false);
    // A redacted copy keeps the full event's hash, which no longer matches.
    expect(checkContentHash({ ...addContentHash(MESSAGE_EVENT), content: {} })).toBe(false);
  });

  it.each([
    ['no hashes', {}],
    ['hashes not an object', { hashes: 'x' }],
    ['hashes an array', { hashes: [] }],
    ['no sha256', { hashes: { sha512: 'x' } }],
    ['sha256 not a string', { hashes: { sha256: 1 } }],
    ['sha256 not base64', { hashes: { sha256: '!!' } }],
    ['sha256 too short', { hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW' } }],
    ['a float in the event', { hashes: MINIMAL_EVENT_SIGNED.hashes ?? null, depth: 3.5 }],
  ] as [string, JsonObject][])('checkContentHash returns false for %s', (_case, patch) => {
    const { hashes: _hashes, ...rest } = MINIMAL_EVENT_SIGNED;
    expect(checkContentHash({ ...rest, ...patch })).toBe(false);
  });
});

describe('reference hash and event IDs', () => {
  it('hashes the canonical JSON of the redacted event without signatures and unsigned', () => {
    const canonical =
      '{"auth_events":[],"content":{},"depth":3,"hashes":{"sha256":"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},' +
      '"origin":"domain","origin_server_ts":1000000,"prev_events":[],"room_id":"!x:domain","sender":"@a:domain","type":"X"}';
    const expected = createHash('sha256').update(canonical, 'utf8').digest();
    expect(Buffer.from(computeReferenceHash(MINIMAL_EVENT_SIGNED, version('4')))).toEqual(expected);
  });

  it('v3 uses standard base64, v4+ URL-safe base64', () => {
    expect(computeEventId(PDU, version('3'))).toBe('$3Rvxxc0hzU9G6wed3rfufMzY+u/gIlviulWhzG1n4uU');
    for (const id of ['4', '5', '6', '7', '8', '9', '10']) {
      expect(computeEventId(PDU, version(id))).toBe('$3Rvxxc0hzU9G6wed3rfufMzY-u_gIlviulWhzG1n4uU');
    }
  });

  it('v11+ hash the v11 redaction (without origin)', () => {
    for (const id of ['11', '12']) {
      expect(computeEventId(PDU, version(id))).toBe('$7WaWJQTZca37wp1LeuVQDmBY34UE7uhsaLb10ECwNJo');
    }
  });

  it('ignores unsigned, signatures and redactable content, but covers the content hash', () => {
    const v10 = version('10');
    const id = computeEventId(PDU, v10);
    const resigned = { ...PDU, unsigned: {}, signatures: { s: { 'ed25519:k': 'sig' } } };
    expect(computeEventId(resigned, v10)).toBe(id);
    expect(computeEventId({ ...PDU, content: { body: 'redacted away' } }, v10)).toBe(id);
    expect(computeEventId({ ...PDU, hashes: { sha256: 'other' } }, v10)).not.toBe(id);
    expect(computeEventId({ ...PDU, depth: 8 }, v10)).not.toBe(id);
  });

  it('v1–2 events carry their own event_id', () => {
    for (const id of ['1', '2']) {
      expect(computeEventId(MESSAGE_EVENT, version(id))).toBe('$0:domain');
      expect(() => computeEventId(PDU, version(id))).toThrow(/event_id/);
    }
  });

  it('generateLegacyEventId makes random $opaque:domain IDs', () => {
    const a = generateLegacyEventId('example.org:8448');
    expect(a).toMatch(/^\$[A-Za-z0-9]{24}:example\.org:8448$/);
    expect(generateLegacyEventId('example.org:8448')).not.toBe(a);
  });
});

describe('computeV12RoomId', () => {
  it('is "!" + the URL-safe reference hash of the create event', () => {
    expect(computeV12RoomId(CREATE_EVENT)).toBe(CREATE_ROOM_ID);
    expect(computeV12RoomId(CREATE_EVENT, version('12'))).toBe(CREATE_ROOM_ID);
    expect(computeEventId(CREATE_EVENT, version('12'))).toBe(`$${CREATE_ROOM_ID.slice(1)}`);
  });

  it('covers the whole create content (kept by redaction), not unsigned or signatures', () => {
    const other = { ...CREATE_EVENT, unsigned: {}, signatures: { x: { 'ed25519:y': 'z' } } };
    expect(computeV12RoomId(other)).toBe(CREATE_ROOM_ID);
    const fewerCreators = addContentHash({
      ...CREATE_EVENT,
      content: { room_version: '12', 'm.federate': true },
    });
    expect(computeV12RoomId(fewerCreators)).not.toBe(CREATE_ROOM_ID);
  });

  it('refuses versions whose room IDs are not create-event hashes', () => {
    const v11Create = { ...CREATE_EVENT, content: { room_version: '11' } };
    expect(() => computeV12RoomId(v11Create)).toThrow(/does not derive room IDs/);
    expect(() => computeV12RoomId({ ...CREATE_EVENT, content: {} })).toThrow(/room version 1 /);
    expect(() => computeV12RoomId(CREATE_EVENT, version('11'))).toThrow(/does not derive/);
  });

  it('refuses unknown versions and non-create events', () => {
    const unknown = { ...CREATE_EVENT, content: { room_version: '99' } };
    expect(() => computeV12RoomId(unknown)).toThrow(/unknown room version "99"/);
    const numeric = { ...CREATE_EVENT, content: { room_version: 12 } };
    expect(() => computeV12RoomId(numeric)).toThrow(/unknown room version 12/);
    expect(() => computeV12RoomId({ ...CREATE_EVENT, type: 'm.room.member' })).toThrow(
      /m\.room\.create/,
    );
  });
});
