import { describe, expect, it } from 'vitest';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import { generateSigningKey } from '../../protocol/signing-key.js';
import { formatClientEvent } from './client-event.js';
import { buildEvent } from './event-builder.js';

const key = generateSigningKey();
const build = (versionId: string, draft: Parameters<typeof buildEvent>[0], roomId = '!r:a.test') =>
  buildEvent(draft, {
    version: requireRoomVersion(versionId),
    roomId,
    prevEvents: [],
    authEvents: [],
    originServerTs: 1000,
    serverName: 'a.test',
    signingKey: key,
  });

describe('formatClientEvent', () => {
  it('keeps the client fields only, with the age and extras in unsigned', () => {
    const event = build('10', {
      type: 'm.room.topic',
      stateKey: '',
      sender: '@a:a.test',
      content: { topic: 't' },
    });
    expect(
      formatClientEvent(event, requireRoomVersion('10'), 1500, {
        transactionId: 'txn',
        membership: 'join',
        replaced: { eventId: '$old', sender: '@b:a.test', content: { topic: 'old' } },
      }),
    ).toEqual({
      event_id: event.eventId,
      room_id: '!r:a.test',
      sender: '@a:a.test',
      type: 'm.room.topic',
      state_key: '',
      content: { topic: 't' },
      origin_server_ts: 1000,
      unsigned: {
        age: 500,
        transaction_id: 'txn',
        membership: 'join',
        replaces_state: '$old',
        prev_content: { topic: 'old' },
        prev_sender: '@b:a.test',
      },
    });
  });

  it('redacts with the version rules once a redaction applies', () => {
    const version = requireRoomVersion('10');
    const member = build('10', {
      type: 'm.room.member',
      stateKey: '@a:a.test',
      sender: '@a:a.test',
      content: { membership: 'join', displayname: 'A' },
    });
    const redaction = build('10', {
      type: 'm.room.redaction',
      sender: '@a:a.test',
      content: { reason: 'r' },
      redacts: member.eventId,
    });
    const because = formatClientEvent(redaction, version, 1000);
    expect(because.redacts).toBe(member.eventId);
    const formatted = formatClientEvent(member, version, 1000, { redactedBecause: because });
    expect(formatted.content).toEqual({ membership: 'join' });
    expect(formatted.unsigned.redacted_because).toBe(because);
  });

  it('gives v11+ redactions `redacts` at the top level too', () => {
    const redaction = build('11', {
      type: 'm.room.redaction',
      sender: '@a:a.test',
      content: { redacts: '$x' },
      redacts: '$x',
    });
    const formatted = formatClientEvent(redaction, requireRoomVersion('11'), 1000);
    expect(formatted.redacts).toBe('$x');
    expect(formatted.content).toEqual({ redacts: '$x' });
  });
});
