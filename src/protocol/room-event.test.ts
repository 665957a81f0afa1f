import { describe, expect, it } from 'vitest';
import { SignedRoom } from '../../test/helpers/signed-room.js';
import { toRoomEvent } from './room-event.js';

describe('toRoomEvent with a known event ID', () => {
  it.each(['1', '4', '12'])('reads a stored v%s event as it read it when received', (version) => {
    const room = new SignedRoom(version, '@alice:a.test');
    room.join('@alice:a.test');
    for (const event of room.events) {
      expect(toRoomEvent(event.pdu, room.version, event.eventId)).toEqual(event);
    }
  });
});
