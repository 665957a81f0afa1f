import { describe, expect, it } from 'vitest';
import { checkContentHash, computeReferenceHash } from '../../protocol/event-hashing.js';
import { encodeBase64 } from '../../core/base64.js';
import { verifyEventSignature } from '../../protocol/event-signing.js';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import { generateSigningKey } from '../../protocol/signing-key.js';
import { buildEvent, generateRoomId } from './event-builder.js';

const key = generateSigningKey();
const context = (
  versionId: string,
  roomId: string | undefined,
  prevEvents = [] as ReturnType<typeof buildEvent>[],
) => ({
  version: requireRoomVersion(versionId),
  roomId,
  prevEvents,
  authEvents: prevEvents,
  originServerTs: 1_700_000_000_000,
  serverName: 'a.test',
  signingKey: key,
});
const create = {
  type: 'm.room.create',
  stateKey: '',
  sender: '@alice:a.test',
  content: { room_version: '12' },
};

describe('buildEvent', () => {
  it('builds a v12 create event whose hash is the room ID, then events after it', () => {
    const first = buildEvent(create, context('12', undefined));
    expect(first.pdu.room_id).toBeUndefined();
    expect(first.roomId).toBe(`!${first.eventId.slice(1)}`);
    const second = buildEvent(
      { type: 'm.room.message', sender: '@alice:a.test', content: { body: 'x' } },
      context('12', first.roomId, [first]),
    );
    expect(second.depth).toBe(2);
    expect(second.pdu.prev_events).toEqual([first.eventId]);
    expect(second.pdu.room_id).toBe(first.roomId);
    expect(checkContentHash(second.pdu)).toBe(true);
    expect(
      verifyEventSignature(
        second.pdu,
        'a.test',
        key.keyId,
        key.publicKey,
        requireRoomVersion('12'),
      ),
    ).toBe(true);
  });

  it('gives v1 events their own IDs, an origin and hashed references', () => {
    const version = requireRoomVersion('1');
    const roomId = generateRoomId('a.test');
    expect(roomId).toMatch(/^![A-Za-z]{18}:a\.test$/);
    const first = buildEvent(
      { ...create, content: { creator: '@alice:a.test' } },
      context('1', roomId),
    );
    expect(first.eventId).toMatch(/^\$[A-Za-z0-9]{24}:a\.test$/);
    const redaction = buildEvent(
      { type: 'm.room.redaction', sender: '@alice:a.test', content: {}, redacts: first.eventId },
      context('1', roomId, [first]),
    );
    expect(redaction.pdu.origin).toBe('a.test');
    expect(redaction.pdu.redacts).toBe(first.eventId);
    expect(redaction.redacts).toBe(first.eventId);
    expect(redaction.pdu.prev_events).toEqual([
      [first.eventId, { sha256: encodeBase64(computeReferenceHash(first.pdu, version)) }],
    ]);
  });

  it('puts redacts only in content from v11', () => {
    const first = buildEvent(create, context('12', undefined));
    const redaction = buildEvent(
      {
        type: 'm.room.redaction',
        sender: '@alice:a.test',
        content: { redacts: first.eventId },
        redacts: first.eventId,
      },
      context('12', first.roomId, [first]),
    );
    expect(redaction.pdu.redacts).toBeUndefined();
    expect(redaction.redacts).toBe(first.eventId);
  });

  it('refuses oversized events with M_TOO_LARGE and non-canonical content with M_BAD_JSON', () => {
    const first = buildEvent(create, context('12', undefined));
    const at = context('12', first.roomId, [first]);
    const message =
      (content: Record<string, unknown>, type = 'm.room.message') =>
      () =>
        buildEvent({ type, sender: '@alice:a.test', content: content as never }, at);
    expect(message({ body: 'x'.repeat(65_536) })).toThrow(
      expect.objectContaining({ errcode: 'M_TOO_LARGE', status: 413 }),
    );
    expect(message({}, 'x'.repeat(256))).toThrow(
      expect.objectContaining({ errcode: 'M_TOO_LARGE' }),
    );
    expect(message({ n: 0.5 })).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
    expect(message({ n: 2 ** 60 })).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
    expect(message({ body: 'x'.repeat(60_000) })).not.toThrow();
  });
});
