import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../../protocol/room-event.js';
import { matchesRoomEventFilter, parseRoomEventFilter } from './event-filter.js';
import type { RoomEventFilter } from './event-filter.js';

function event(type: string, sender: string, content: Record<string, unknown> = {}): RoomEvent {
  return { type, sender, content, roomId: '!r:a.test' } as unknown as RoomEvent;
}

describe('room event filters', () => {
  it('parses JSON filters, refusing what is not one', () => {
    expect(parseRoomEventFilter(undefined)).toEqual({});
    expect(parseRoomEventFilter('{"types":["m.room.message"]}')).toEqual({
      types: ['m.room.message'],
    });
    for (const text of ['nope', '[1]', '{"senders":"@a:b"}', '{"limit":-1}']) {
      expect(() => parseRoomEventFilter(text), text).toThrow(
        expect.objectContaining({ errcode: 'M_INVALID_PARAM' }),
      );
    }
  });

  it('matches types with wildcards, senders, rooms and URLs', () => {
    const message = event('m.room.message', '@a:x', { url: 'mxc://x/y' });
    const member = event('m.room.member', '@b:x');
    const match = (filter: RoomEventFilter, e: RoomEvent) => matchesRoomEventFilter(filter, e);
    expect(match({ types: ['m.room.*'] }, member)).toBe(true);
    expect(match({ types: ['m.*.message'] }, member)).toBe(false);
    expect(match({ types: ['m.room.m.ssage'] }, message)).toBe(false);
    expect(match({ not_types: ['*'] }, message)).toBe(false);
    expect(match({ types: ['m.room.message'], not_types: ['m.room.message'] }, message)).toBe(
      false,
    );
    expect(match({ senders: ['@a:x'] }, message)).toBe(true);
    expect(match({ senders: ['@a:x'] }, member)).toBe(false);
    expect(match({ not_senders: ['@a:x'] }, message)).toBe(false);
    expect(match({ contains_url: true }, message)).toBe(true);
    expect(match({ contains_url: true }, member)).toBe(false);
    expect(match({ contains_url: false }, member)).toBe(true);
    expect(match({ rooms: ['!other:a.test'] }, member)).toBe(false);
    expect(match({ not_rooms: ['!r:a.test'] }, member)).toBe(false);
    expect(match({}, member)).toBe(true);
  });
});
