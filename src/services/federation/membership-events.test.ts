import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../core/errors.js';
import { checkContentHash } from '../../protocol/event-hashing.js';
import { verifyEventSignature } from '../../protocol/event-signing.js';
import { toRoomEvent } from '../../protocol/room-event.js';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import { generateSigningKey } from '../../protocol/signing-key.js';
import {
  checkSubmittedInvite,
  checkSubmittedMembership,
  eventFromTemplate,
  strippedFromPdus,
  templateOf,
} from './membership-events.js';

const v12 = requireRoomVersion('12');
const v1 = requireRoomVersion('1');
const key = generateSigningKey();
const roomId = '!room:alpha.test';
const userId = '@bob:beta.test';

function template(overrides: Record<string, unknown> = {}) {
  return {
    type: 'm.room.member',
    room_id: roomId,
    sender: userId,
    state_key: userId,
    content: { membership: 'join' },
    depth: 7,
    prev_events: ['$prev'],
    auth_events: ['$power', '$rules'],
    origin: 'alpha.test',
    origin_server_ts: 1,
    ...overrides,
  };
}

const build = (t = template(), version = v12, extra = {}) =>
  eventFromTemplate(t, { roomId, userId, membership: 'join' }, extra, {
    version,
    serverName: 'beta.test',
    signingKey: key,
    now: 5000,
  });

describe('membership templates', () => {
  it('keeps the template’s place in the room and adds this server’s time, hash and signature', () => {
    const event = build(template(), v12, { displayname: 'Bob', membership: 'leave' });
    expect(event).toMatchObject({
      roomId,
      sender: userId,
      depth: 7,
      prevEventIds: ['$prev'],
      authEventIds: ['$power', '$rules'],
      originServerTs: 5000,
      // The membership stays the template's whatever the extra content says.
      content: { membership: 'join', displayname: 'Bob' },
    });
    expect(event.pdu.origin).toBeUndefined();
    expect(checkContentHash(event.pdu)).toBe(true);
    expect(verifyEventSignature(event.pdu, 'beta.test', key.keyId, key.publicKey, v12)).toBe(true);
    expect(toRoomEvent(event.pdu, v12).eventId).toBe(event.eventId);
  });

  it('gives v1 events an event ID of this server', () => {
    const event = build(template({ prev_events: [], auth_events: [] }), v1);
    expect(event.eventId).toMatch(/^\$.+:beta\.test$/);
    expect(event.pdu.origin).toBe('beta.test');
  });

  it('refuses templates for another user, room or membership (502 M_BAD_JSON)', () => {
    for (const bad of [
      template({ sender: '@eve:beta.test' }),
      template({ state_key: '@eve:beta.test' }),
      template({ room_id: '!other:alpha.test' }),
      template({ content: { membership: 'leave' } }),
      template({ type: 'm.room.message' }),
      template({ depth: 'deep' }),
    ]) {
      expect(() => build(bad)).toThrow(MatrixError);
      try {
        build(bad);
      } catch (error) {
        expect((error as MatrixError).status).toBe(502);
      }
    }
  });

  it('makes a template of a built event without hashes, signatures or ID', () => {
    const event = build();
    const made = templateOf(event.pdu, 'alpha.test');
    expect(made.signatures).toBeUndefined();
    expect(made.hashes).toBeUndefined();
    expect(made).toMatchObject({ origin: 'alpha.test', origin_server_ts: 5000, depth: 7 });
  });
});

describe('checks of submitted member events', () => {
  const event = build();
  const expected = {
    eventId: event.eventId,
    roomId,
    membership: 'join' as const,
    origin: 'beta.test',
  };

  it('accepts a join matching the URL from a user of the origin', () => {
    expect(() => checkSubmittedMembership(event, expected)).not.toThrow();
  });

  it('refuses another event ID, room, membership or origin with M_INVALID_PARAM', () => {
    for (const wrong of [
      { ...expected, eventId: '$other' },
      { ...expected, roomId: '!other:alpha.test' },
      { ...expected, membership: 'leave' as const },
      { ...expected, origin: 'gamma.test' },
    ]) {
      expect(() => checkSubmittedMembership(event, wrong)).toThrow(
        expect.objectContaining({ errcode: 'M_INVALID_PARAM' }),
      );
    }
  });

  it('accepts an invite of a local user by a user of the origin only', () => {
    // The checks read the parsed event only: a join turned into an invite of a local user.
    const invite = event;
    const check = (origin: string, serverName: string) =>
      checkSubmittedInvite(
        { ...invite, stateKey: '@amy:alpha.test', content: { membership: 'invite' } },
        { eventId: invite.eventId, roomId, origin, serverName },
      );
    expect(() => check('beta.test', 'alpha.test')).not.toThrow();
    expect(() => check('gamma.test', 'alpha.test')).toThrow(
      expect.objectContaining({ errcode: 'M_INVALID_PARAM' }),
    );
    expect(() => check('beta.test', 'delta.test')).toThrow(
      expect.objectContaining({ errcode: 'M_INVALID_PARAM' }),
    );
  });

  it('strips PDUs to what clients see, leaving out what is not state', () => {
    expect(
      strippedFromPdus([
        { type: 'm.room.name', state_key: '', sender: '@a:x', content: { name: 'N' }, depth: 3 },
        { type: 'm.room.message', sender: '@a:x', content: {} },
        'junk',
      ]),
    ).toEqual([{ type: 'm.room.name', state_key: '', sender: '@a:x', content: { name: 'N' } }]);
  });
});
