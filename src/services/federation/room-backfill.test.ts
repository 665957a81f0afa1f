import { describe, expect, it } from 'vitest';
import { SignedRoom } from '../../../test/helpers/signed-room.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { leadingTo } from './room-backfill.js';

const ALICE = '@alice:a.test';

describe('leadingTo', () => {
  it('keeps the events that lead to a point, each after its prev events, and drops the rest', () => {
    const room = new SignedRoom('10', ALICE);
    room.join(ALICE);
    const one = room.message(ALICE, 'one');
    const two = room.message(ALICE, 'two');
    // A fork from `one`, merged by `merge`.
    const side = room.message(ALICE, 'side', { prevEvents: [one.eventId] });
    const merge = room.message(ALICE, 'merge', { prevEvents: [two.eventId, side.eventId] });
    const later = room.message(ALICE, 'after the point');
    const byId = (events: RoomEvent[]) => new Map(events.map((event) => [event.eventId, event]));

    // Returned in any order (newest first here), with an event after the point.
    const fetched = byId([later, merge, side, two, one]);
    const kept = leadingTo([merge.eventId], fetched).map((event) => event.eventId);
    expect(kept).not.toContain(later.eventId);
    expect(new Set(kept)).toEqual(new Set([one, two, side, merge].map((event) => event.eventId)));
    const at = (event: RoomEvent) => kept.indexOf(event.eventId);
    expect(at(one)).toBeLessThan(at(two));
    expect(at(one)).toBeLessThan(at(side));
    expect(at(two)).toBeLessThan(at(merge));
    expect(at(side)).toBeLessThan(at(merge));

    // A point not among the fetched events gives nothing; nor does an unconnected event.
    expect(leadingTo(['$unknown'], fetched)).toEqual([]);
    expect(leadingTo([two.eventId], byId([side]))).toEqual([]);
  });
});
