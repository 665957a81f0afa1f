import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../core/base64.js';
import type { JsonObject } from '../core/canonical-json.js';
import { checkContentHash, computeEventId } from './event-hashing.js';
import {
  addEventSignature,
  signEvent,
  signNewEvent,
  verifyEventSignature,
} from './event-signing.js';
import { redactEvent } from './redaction.js';
import { getRoomVersion } from './room-versions.js';
import type { RoomVersion } from './room-versions.js';
import { generateSigningKey, signingKeyFromSeed } from './signing-key.js';

function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (v === undefined) throw new Error(`missing room version ${id}`);
  return v;
}

// appendices: "Cryptographic Test Vectors" — server name "domain", key ID "ed25519:1".
const SPEC_KEY = signingKeyFromSeed(
  decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'),
  '1',
);
const SPEC_PUBLIC_KEY = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';

// appendices "Event Signing": inputs and expected outputs, verbatim. They use the redaction rules
// of room versions 1–10 (`origin` is signed), so they hold for all of those versions.
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
const MINIMAL_EVENT_SIGNATURE =
  'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg';
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
      'ed25519:1': MINIMAL_EVENT_SIGNATURE,
    },
  },
  type: 'X',
  unsigned: { age_ts: 1000000 },
};
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
const MESSAGE_EVENT_SIGNATURE =
  'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA';
const MESSAGE_EVENT_SIGNED: JsonObject = {
  content: { body: 'Here is the message content' },
  event_id: '$0:domain',
  hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
  origin: 'domain',
  origin_server_ts: 1000000,
  type: 'm.room.message',
  room_id: '!r:domain',
  sender: '@u:domain',
  signatures: {
    domain: {
      'ed25519:1': MESSAGE_EVENT_SIGNATURE,
    },
  },
  unsigned: { age_ts: 1000000 },
};

const V1_TO_V10 = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'];

const verifySpec = (event: JsonObject, roomVersion: RoomVersion) =>
  verifyEventSignature(event, 'domain', 'ed25519:1', SPEC_PUBLIC_KEY, roomVersion);

describe('signEvent (spec test vectors)', () => {
  it.each(V1_TO_V10)('signs the minimal event in v%s', (id) => {
    expect(signEvent(MINIMAL_EVENT, 'domain', SPEC_KEY, version(id))).toEqual(MINIMAL_EVENT_SIGNED);
  });

  it.each(V1_TO_V10)('signs the event with redactable content in v%s', (id) => {
    expect(signEvent(MESSAGE_EVENT, 'domain', SPEC_KEY, version(id))).toEqual(MESSAGE_EVENT_SIGNED);
  });

  it('signs a different (origin-less) redaction in v11+, with the same content hash', () => {
    for (const id of ['11', '12']) {
      const signed = signEvent(MINIMAL_EVENT, 'domain', SPEC_KEY, version(id));
      expect(signed.hashes).toEqual(MINIMAL_EVENT_SIGNED.hashes);
      expect(signed.signatures).not.toEqual(MINIMAL_EVENT_SIGNED.signatures);
      expect(verifySpec(signed, version(id))).toBe(true);
      expect(verifySpec(signed, version('10'))).toBe(false);
    }
  });
});

describe('signEvent', () => {
  it('does not modify its input', () => {
    const before = structuredClone(MESSAGE_EVENT);
    signEvent(MESSAGE_EVENT, 'domain', SPEC_KEY, version('10'));
    expect(MESSAGE_EVENT).toEqual(before);
  });

  it('keeps signatures from other servers', () => {
    const other = generateSigningKey();
    const theirs = signEvent(MINIMAL_EVENT, 'other.example', other, version('10'));
    const both = signEvent(theirs, 'domain', SPEC_KEY, version('10'));
    expect(Object.keys(both.signatures).sort()).toEqual(['domain', 'other.example']);
    expect(both.signatures.domain).toEqual({ 'ed25519:1': MINIMAL_EVENT_SIGNATURE });
    const v10 = version('10');
    expect(verifyEventSignature(both, 'other.example', other.keyId, other.publicKey, v10)).toBe(
      true,
    );
    expect(verifySpec(both, v10)).toBe(true);
  });
});

describe('addEventSignature', () => {
  it('co-signs without recomputing the hash, so the origin signature stays valid', () => {
    const resident = generateSigningKey();
    const v10 = version('10');
    const cosigned = addEventSignature(MESSAGE_EVENT_SIGNED, 'resident.example', resident, v10);
    expect(cosigned.hashes).toEqual(MESSAGE_EVENT_SIGNED.hashes);
    expect(cosigned.signatures.domain).toEqual({ 'ed25519:1': MESSAGE_EVENT_SIGNATURE });
    expect(verifySpec(cosigned, v10)).toBe(true);
    const byResident = (e: JsonObject) =>
      verifyEventSignature(e, 'resident.example', resident.keyId, resident.publicKey, v10);
    expect(byResident(cosigned)).toBe(true);
    // Co-signing a redacted copy keeps its (now mismatching) hash rather than forging a new one.
    const redacted = addEventSignature(redactEvent(MESSAGE_EVENT_SIGNED, v10), 'r', resident, v10);
    expect(redacted.hashes).toEqual(MESSAGE_EVENT_SIGNED.hashes);
    expect(verifySpec(redacted, v10)).toBe(true);
  });
});

describe('verifyEventSignature', () => {
  it.each(V1_TO_V10)('accepts the spec outputs in v%s', (id) => {
    expect(verifySpec(MINIMAL_EVENT_SIGNED, version(id))).toBe(true);
    expect(verifySpec(MESSAGE_EVENT_SIGNED, version(id))).toBe(true);
  });

  it('accepts a redacted copy, whose content hash then no longer matches', () => {
    const redacted = redactEvent(MESSAGE_EVENT_SIGNED, version('10'));
    expect(redacted.content).toEqual({});
    expect(verifySpec(redacted, version('10'))).toBe(true);
    expect(checkContentHash(redacted)).toBe(false);
    expect(checkContentHash(MESSAGE_EVENT_SIGNED)).toBe(true);
  });

  it('ignores edits to redactable content and unsigned (the content hash catches content)', () => {
    const edited = { ...MESSAGE_EVENT_SIGNED, content: { body: 'forged' }, unsigned: {} };
    expect(verifySpec(edited, version('10'))).toBe(true);
    expect(checkContentHash(edited)).toBe(false);
  });

  it.each([
    ['origin_server_ts', { origin_server_ts: 1000001 }],
    ['sender', { sender: '@mallory:domain' }],
    ['event_id', { event_id: '$1:domain' }],
    ['the content hash', { hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/h' } }],
    ['an added state_key', { state_key: '' }],
  ] as [string, JsonObject][])('rejects an edited %s', (_case, patch) => {
    expect(verifySpec({ ...MESSAGE_EVENT_SIGNED, ...patch }, version('10'))).toBe(false);
  });

  it('rejects the wrong server, key ID or public key', () => {
    const v10 = version('10');
    const other = generateSigningKey();
    const event = MINIMAL_EVENT_SIGNED;
    expect(verifyEventSignature(event, 'other', 'ed25519:1', SPEC_PUBLIC_KEY, v10)).toBe(false);
    expect(verifyEventSignature(event, 'domain', 'ed25519:2', SPEC_PUBLIC_KEY, v10)).toBe(false);
    expect(verifyEventSignature(event, 'domain', 'ed25519:1', other.publicKey, v10)).toBe(false);
  });

  it('returns false, without throwing, for unsigned or malformed events', () => {
    const v10 = version('10');
    expect(verifySpec(MINIMAL_EVENT, v10)).toBe(false);
    expect(verifySpec({ ...MINIMAL_EVENT_SIGNED, depth: 3.5 }, v10)).toBe(false);
    expect(verifySpec({ ...MINIMAL_EVENT_SIGNED, signatures: 'x' }, v10)).toBe(false);
  });
});

describe('signNewEvent', () => {
  const fresh = (roomVersion: RoomVersion): JsonObject => ({
    type: 'm.room.message',
    sender: '@alice:domain',
    room_id: '!room:domain',
    content: { msgtype: 'm.text', body: 'hello', 'x-extra': { nested: [1, 2, 3] } },
    depth: 7,
    origin_server_ts: 1234567,
    prev_events: roomVersion.eventIdFormat === 'v1' ? [['$p:domain', { sha256: 'AAAA' }]] : ['$p'],
    auth_events: roomVersion.eventIdFormat === 'v1' ? [['$a:domain', { sha256: 'BBBB' }]] : ['$a'],
    ...(roomVersion.eventIdFormat === 'v1' ? { event_id: '$legacy:domain', origin: 'domain' } : {}),
  });

  it.each(['1', '3', '10', '11', '12'])(
    'gives the PDU and event ID of signEvent + computeEventId in room version %s',
    (id) => {
      const roomVersion = version(id);
      const event = fresh(roomVersion);
      const expected = signEvent(event, 'domain', SPEC_KEY, roomVersion);
      const made = signNewEvent(event, 'domain', SPEC_KEY, roomVersion);
      expect(made.pdu).toEqual(expected);
      expect(made.eventId).toBe(computeEventId(expected, roomVersion));
      expect(checkContentHash(made.pdu)).toBe(true);
      expect(
        verifyEventSignature(made.pdu, 'domain', 'ed25519:1', SPEC_PUBLIC_KEY, roomVersion),
      ).toBe(true);
    },
  );

  it('does not modify the event it is given', () => {
    const roomVersion = version('12');
    const event = fresh(roomVersion);
    const before = structuredClone(event);
    signNewEvent(event, 'domain', SPEC_KEY, roomVersion);
    expect(event).toEqual(before);
  });
});
