import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../core/clock.js';
import type { MembershipLookup } from './membership-lookup.js';
import { MAX_TYPING_TIMEOUT_MS, Typing, type TypingChange } from './typing.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';
const ROOM = '!room:alpha.test';
const OTHER_ROOM = '!other:alpha.test';
const START = 1_731_000_000_000;

/** Alice and Bob are in ROOM; nobody is in OTHER_ROOM. */
const memberships: MembershipLookup = {
  isJoined: async (roomId, userId) => roomId === ROOM && (userId === ALICE || userId === BOB),
  joinedRoomIds: async () => [ROOM],
  usersSharingRoomWith: async () => [ALICE, BOB],
  shareARoom: async () => true,
};

function clockAt(now: number): Clock {
  return { now: () => now };
}

describe('Typing', () => {
  let typing: Typing;
  let changes: TypingChange[];
  beforeEach(() => {
    vi.useFakeTimers();
    typing = new Typing(memberships, clockAt(START), pino({ level: 'silent' }));
    changes = [];
    typing.changed.add((change) => {
      changes.push(change);
    });
  });
  afterEach(() => {
    typing.stop();
    vi.useRealTimers();
  });

  it('starts its positions at the clock, so a later instance starts above them', () => {
    expect(typing.currentPosition()).toBe(START);
  });

  it('keeps per-room lists and moves the position on each change', async () => {
    await typing.setTyping(ROOM, ALICE, true, 10_000);
    await typing.setTyping(ROOM, BOB, true, 10_000);
    expect(typing.typingUsers(ROOM)).toEqual([ALICE, BOB]);
    expect(typing.currentPosition()).toBe(START + 2);
    // Typing again only extends the time.
    await typing.setTyping(ROOM, ALICE, true, 10_000);
    expect(typing.currentPosition()).toBe(START + 2);
    await typing.setTyping(ROOM, ALICE, false, 0);
    expect(typing.typingUsers(ROOM)).toEqual([BOB]);
    // Stopping when not typing changes nothing.
    await typing.setTyping(ROOM, ALICE, false, 0);
    expect(changes).toEqual([
      { roomId: ROOM, position: START + 1, userId: ALICE, typing: true },
      { roomId: ROOM, position: START + 2, userId: BOB, typing: true },
      { roomId: ROOM, position: START + 3, userId: ALICE, typing: false },
    ]);
  });

  it('refuses users who are not in the room', async () => {
    await expect(typing.setTyping(OTHER_ROOM, ALICE, true, 1_000)).rejects.toMatchObject({
      errcode: 'M_FORBIDDEN',
      status: 403,
    });
    expect(changes).toEqual([]);
  });

  it('ends typing after the timeout, at most 30 s', async () => {
    await typing.setTyping(ROOM, ALICE, true, 5_000);
    await typing.setTyping(ROOM, BOB, true, 3_600_000);
    vi.advanceTimersByTime(5_000);
    expect(typing.typingUsers(ROOM)).toEqual([BOB]);
    vi.advanceTimersByTime(MAX_TYPING_TIMEOUT_MS - 5_000);
    expect(typing.typingUsers(ROOM)).toEqual([]);
    expect(changes.map((change) => change.position)).toEqual([
      START + 1,
      START + 2,
      START + 3,
      START + 4,
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('restarts the timeout when the user types again', async () => {
    await typing.setTyping(ROOM, ALICE, true, 10_000);
    vi.advanceTimersByTime(8_000);
    await typing.setTyping(ROOM, ALICE, true, 10_000);
    vi.advanceTimersByTime(8_000);
    expect(typing.typingUsers(ROOM)).toEqual([ALICE]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('stop() clears every timer', async () => {
    await typing.setTyping(ROOM, ALICE, true, 10_000);
    await typing.setTyping(ROOM, BOB, true, 10_000);
    typing.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(typing.typingUsers(ROOM)).toEqual([]);
    typing.startTyping(ROOM, ALICE, 1_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  describe('changesSince (for sync)', () => {
    it('gives rooms where someone types on an initial sync', async () => {
      await typing.setTyping(ROOM, ALICE, true, 10_000);
      expect(typing.changesSince([ROOM, OTHER_ROOM], 0)).toEqual(
        new Map([[ROOM, { type: 'm.typing', content: { user_ids: [ALICE] } }]]),
      );
    });

    it('gives the current list of rooms that changed after the position, empty lists too', async () => {
      typing.startTyping(OTHER_ROOM, BOB, 10_000);
      const since = typing.currentPosition();
      expect(typing.changesSince([ROOM, OTHER_ROOM], since)).toEqual(new Map());
      await typing.setTyping(ROOM, ALICE, true, 10_000);
      await typing.setTyping(ROOM, ALICE, false, 0);
      expect(typing.changesSince([ROOM, OTHER_ROOM], since)).toEqual(
        new Map([[ROOM, { type: 'm.typing', content: { user_ids: [] } }]]),
      );
      // Only the rooms asked about.
      expect(typing.changesSince([OTHER_ROOM], since)).toEqual(new Map());
    });

    it('gives every room asked about for a position of another instance', async () => {
      await typing.setTyping(ROOM, ALICE, true, 10_000);
      const expected = new Map([
        [ROOM, { type: 'm.typing', content: { user_ids: [ALICE] } }],
        [OTHER_ROOM, { type: 'm.typing', content: { user_ids: [] } }],
      ]);
      // An earlier instance's position is below this one's start.
      expect(typing.changesSince([ROOM, OTHER_ROOM], START - 5)).toEqual(expected);
      // A shard whose clock ran ahead handed out positions above the current one.
      expect(typing.changesSince([ROOM, OTHER_ROOM], START + 1_000)).toEqual(expected);
    });
  });
});
