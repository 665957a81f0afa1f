import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import { StoredRooms } from '../../../test/helpers/stored-rooms.js';
import { StreamPositions } from '../sync/sync-token.js';
import { StoredMembershipLookup } from './membership-lookup.js';
import { Presence, type PresenceChange } from './presence.js';
import { Receipts, type ReceiptChange } from './receipts.js';
import { Typing } from './typing.js';

const ROOM = '!room:alpha.test';
const OTHER_ROOM = '!other:alpha.test';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

/** Alice and Bob in ROOM; Carol alone in OTHER_ROOM; Dave in no room. */
async function setup() {
  const t: TestAccountServices = await openAccountServices();
  opened.push(t);
  const logger = pino({ level: 'silent' });
  const user = async (localpart: string) =>
    (await t.services.registration.createAccount({ localpart, isAdmin: false, isGuest: false }))
      .userId;
  const [alice, bob, carol, dave] = [
    await user('alice'),
    await user('bob'),
    await user('carol'),
    await user('dave'),
  ];
  const rooms = new StoredRooms(t.db);
  await rooms.createRoom(ROOM, [alice, bob]);
  await rooms.createRoom(OTHER_ROOM, [carol]);
  const memberships = new StoredMembershipLookup(t.db);
  const receipts = new Receipts(t.db, t.clock, memberships, t.services.accountData, logger);
  const presence = new Presence(t.db, t.clock, 'alpha.test', memberships, logger);
  const typing = new Typing(memberships, t.clock, logger);
  opened.push({ close: async () => typing.stop() });
  const streams = new StreamPositions(t.db, typing);
  return { ...t, alice, bob, carol, dave, rooms, memberships, receipts, presence, typing, streams };
}

describe('memberships', () => {
  it('answers from the current memberships', async () => {
    const { memberships, rooms, alice, bob, carol, dave } = await setup();
    expect(await memberships.isJoined(ROOM, alice)).toBe(true);
    expect(await memberships.isJoined(OTHER_ROOM, alice)).toBe(false);
    expect(await memberships.joinedRoomIds(alice)).toEqual([ROOM]);
    expect((await memberships.usersSharingRoomWith(alice)).sort()).toEqual([alice, bob].sort());
    expect(await memberships.usersSharingRoomWith(dave)).toEqual([]);
    expect(await memberships.shareARoom(alice, bob)).toBe(true);
    expect(await memberships.shareARoom(alice, carol)).toBe(false);
    await rooms.setMembership(ROOM, bob, 'leave');
    expect(await memberships.isJoined(ROOM, bob)).toBe(false);
    expect(await memberships.shareARoom(alice, bob)).toBe(false);
    await rooms.setMembership(OTHER_ROOM, dave, 'invite');
    expect(await memberships.shareARoom(carol, dave)).toBe(false);
  });
});

describe('Receipts', () => {
  it('stores one receipt per (room, type, user, thread) on the receipts stream', async () => {
    const { receipts, rooms, streams, alice, bob, clock } = await setup();
    const changes: ReceiptChange[] = [];
    receipts.changed.add((change) => void changes.push(change));
    const first = await rooms.addEvent(ROOM, bob);
    const second = await rooms.addEvent(ROOM, bob);
    const start = (await streams.currentToken()).receipts;

    await receipts.sendReceipt(ROOM, alice, 'm.read', first, undefined);
    await receipts.sendReceipt(ROOM, alice, 'm.read', second, undefined);
    await receipts.sendReceipt(ROOM, alice, 'm.read', first, 'main');
    await receipts.sendReceipt(ROOM, alice, 'm.read.private', second, undefined);
    expect((await streams.currentToken()).receipts).toBe(start + 4);
    expect(changes).toMatchObject([
      { roomId: ROOM, userId: alice, receiptType: 'm.read', private: false, position: start + 1 },
      { roomId: ROOM, userId: alice, receiptType: 'm.read', private: false, position: start + 2 },
      { roomId: ROOM, userId: alice, receiptType: 'm.read', private: false, position: start + 3 },
      {
        roomId: ROOM,
        userId: alice,
        receiptType: 'm.read.private',
        private: true,
        position: start + 4,
      },
    ]);

    const ts = clock.now();
    // Alice sees her private receipt; the unthreaded m.read moved from `first` to `second`.
    expect(await receipts.changesBetween(alice, [ROOM], 0, start + 4)).toEqual(
      new Map([
        [
          ROOM,
          {
            type: 'm.receipt',
            content: {
              [second]: {
                'm.read': { [alice]: { ts } },
                'm.read.private': { [alice]: { ts } },
              },
              [first]: { 'm.read': { [alice]: { ts, thread_id: 'main' } } },
            },
          },
        ],
      ]),
    );
    // Bob does not see it.
    expect(await receipts.changesBetween(bob, [ROOM], 0, start + 4)).toEqual(
      new Map([
        [
          ROOM,
          {
            type: 'm.receipt',
            content: {
              [second]: { 'm.read': { [alice]: { ts } } },
              [first]: { 'm.read': { [alice]: { ts, thread_id: 'main' } } },
            },
          },
        ],
      ]),
    );
    // Only positions in (from, to], only rooms asked about.
    expect(await receipts.changesBetween(bob, [ROOM], start + 2, start + 3)).toEqual(
      new Map([
        [
          ROOM,
          {
            type: 'm.receipt',
            content: { [first]: { 'm.read': { [alice]: { ts, thread_id: 'main' } } } },
          },
        ],
      ]),
    );
    expect(await receipts.changesBetween(bob, [ROOM], start + 4, start + 4)).toEqual(new Map());
    expect(await receipts.changesBetween(alice, [OTHER_ROOM], 0, start + 4)).toEqual(new Map());
  });

  it('ignores receipts that would move backwards or stay put', async () => {
    const { receipts, rooms, streams, alice, bob } = await setup();
    const first = await rooms.addEvent(ROOM, bob);
    const second = await rooms.addEvent(ROOM, bob);
    await receipts.sendReceipt(ROOM, alice, 'm.read', second, undefined);
    const position = (await streams.currentToken()).receipts;
    await receipts.sendReceipt(ROOM, alice, 'm.read', first, undefined);
    await receipts.sendReceipt(ROOM, alice, 'm.read', second, undefined);
    expect((await streams.currentToken()).receipts).toBe(position);
    const events = await receipts.changesBetween(alice, [ROOM], 0, position);
    expect(Object.keys(events.get(ROOM)?.content ?? {})).toEqual([second]);
  });

  it('refuses non-members, events not in the room, and bad thread IDs', async () => {
    const { receipts, rooms, streams, alice, carol, bob } = await setup();
    const event = await rooms.addEvent(ROOM, bob);
    const elsewhere = await rooms.addEvent(OTHER_ROOM, carol);
    const outlier = await rooms.addEvent(ROOM, bob, { outlier: true });
    const rejected = await rooms.addEvent(ROOM, bob, { rejected: true });
    const before = await streams.currentToken();
    await expect(
      receipts.sendReceipt(ROOM, carol, 'm.read', event, undefined),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
    for (const eventId of ['$unknown:alpha.test', elsewhere, outlier, rejected]) {
      await expect(
        receipts.sendReceipt(ROOM, alice, 'm.read', eventId, undefined),
      ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND', status: 404 });
    }
    for (const threadId of ['', 'thread', '!room:alpha.test']) {
      await expect(
        receipts.sendReceipt(ROOM, alice, 'm.read', event, threadId),
      ).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
    }
    await expect(
      receipts.sendReceipt(ROOM, alice, 'm.fully_read', event, 'main'),
    ).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await streams.currentToken()).toEqual(before);
  });

  it('sets the fully read marker as room account data, forward only, with receipts in one go', async () => {
    const { receipts, rooms, alice, bob, services, streams } = await setup();
    const first = await rooms.addEvent(ROOM, bob);
    const second = await rooms.addEvent(ROOM, bob);
    const accountChanges: unknown[] = [];
    services.accountData.changed.add((change) => void accountChanges.push(change));

    await receipts.sendReceipt(ROOM, alice, 'm.fully_read', second, undefined);
    expect(await services.accountData.get(alice, ROOM, 'm.fully_read')).toEqual({
      event_id: second,
    });
    await receipts.setReadMarkers(ROOM, alice, { fullyRead: first });
    expect(await services.accountData.get(alice, ROOM, 'm.fully_read')).toEqual({
      event_id: second,
    });
    expect(accountChanges).toEqual([
      { userId: alice, roomId: ROOM, type: 'm.fully_read', streamId: expect.any(Number) },
    ]);

    const third = await rooms.addEvent(ROOM, bob);
    const before = await streams.currentToken();
    await receipts.setReadMarkers(ROOM, alice, {
      fullyRead: third,
      read: third,
      readPrivate: second,
    });
    const after = await streams.currentToken();
    expect(after.account_data).toBe(before.account_data + 1);
    expect(after.receipts).toBe(before.receipts + 2);
    const content = (
      await receipts.changesBetween(alice, [ROOM], before.receipts, after.receipts)
    ).get(ROOM)?.content;
    expect(Object.keys(content?.[third] ?? {})).toEqual(['m.read']);
    expect(Object.keys(content?.[second] ?? {})).toEqual(['m.read.private']);
  });

  it('writes nothing when one of the read markers names an unknown event', async () => {
    const { receipts, rooms, alice, bob, streams, services } = await setup();
    const event = await rooms.addEvent(ROOM, bob);
    const before = await streams.currentToken();
    await expect(
      receipts.setReadMarkers(ROOM, alice, { fullyRead: event, read: '$nope:alpha.test' }),
    ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(await streams.currentToken()).toEqual(before);
    await expect(services.accountData.get(alice, ROOM, 'm.fully_read')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
  });
});

describe('Presence', () => {
  it('sets and reads presence, advancing the stream only when the state changes', async () => {
    const { presence, streams, alice, bob, carol, clock } = await setup();
    const changes: PresenceChange[] = [];
    presence.changed.add((change) => void changes.push(change));
    const start = (await streams.currentToken()).presence;

    expect(await presence.getPresence(alice, alice)).toEqual({ presence: 'offline' });
    await presence.setPresence(alice, 'online', 'Lunch');
    clock.advance(5_000);
    expect(await presence.getPresence(bob, alice)).toEqual({
      presence: 'online',
      status_msg: 'Lunch',
      last_active_ago: 5_000,
      currently_active: true,
    });
    // Same state again: only the activity time moves.
    await presence.setPresence(alice, 'online', 'Lunch');
    expect((await streams.currentToken()).presence).toBe(start + 1);
    expect((await presence.getPresence(alice, alice)).last_active_ago).toBe(0);
    // An omitted message clears it.
    await presence.setPresence(alice, 'unavailable', undefined);
    expect(await presence.getPresence(alice, alice)).toEqual({
      presence: 'unavailable',
      last_active_ago: 0,
      currently_active: false,
    });
    expect((await streams.currentToken()).presence).toBe(start + 2);
    expect(changes.map((change) => ({ ...change, audience: [...change.audience].sort() }))).toEqual(
      [
        { userId: alice, position: start + 1, audience: [alice, bob].sort() },
        { userId: alice, position: start + 2, audience: [alice, bob].sort() },
      ],
    );
    // Carol shares no room with Alice.
    await expect(presence.getPresence(carol, alice)).rejects.toMatchObject({
      errcode: 'M_FORBIDDEN',
      status: 403,
    });
  });

  it('knows only local users that exist', async () => {
    const { presence, alice } = await setup();
    for (const userId of ['@nobody:alpha.test', '@alice:beta.test']) {
      await expect(presence.getPresence(alice, userId)).rejects.toMatchObject({
        errcode: 'M_NOT_FOUND',
        status: 404,
      });
    }
  });

  it('gives sync the m.presence events of users sharing a room', async () => {
    const { presence, streams, services, alice, bob, carol, dave, clock } = await setup();
    await services.profiles.set(bob, 'displayname', 'Bob B.');
    await presence.setPresence(bob, 'online', 'Hi');
    const middle = (await streams.currentToken()).presence;
    await presence.setPresence(carol, 'online', undefined);
    await presence.setPresence(alice, 'unavailable', undefined);
    await presence.setPresence(dave, 'online', undefined);
    const end = (await streams.currentToken()).presence;
    clock.advance(1_000);

    const forAlice = await presence.changesBetween(alice, 0, end);
    expect(forAlice).toEqual([
      {
        type: 'm.presence',
        sender: bob,
        content: {
          presence: 'online',
          status_msg: 'Hi',
          last_active_ago: 1_000,
          currently_active: true,
          displayname: 'Bob B.',
        },
      },
      {
        type: 'm.presence',
        sender: alice,
        // Only ever unavailable: never active, so no last active time.
        content: { presence: 'unavailable', currently_active: false, displayname: 'alice' },
      },
    ]);
    expect((await presence.changesBetween(alice, middle, end)).map((e) => e.sender)).toEqual([
      alice,
    ]);
    expect((await presence.changesBetween(bob, middle, end)).map((e) => e.sender)).toEqual([alice]);
    // Dave is in no room: he sees only himself.
    expect((await presence.changesBetween(dave, 0, end)).map((e) => e.sender)).toEqual([dave]);
    expect(await presence.changesBetween(alice, end, end)).toEqual([]);
  });
});

describe('StreamPositions', () => {
  it('reads every stream, typing from memory', async () => {
    const { streams, typing, rooms, alice, bob, receipts, presence } = await setup();
    const before = await streams.currentToken();
    expect(before.typing).toBe(typing.currentPosition());
    expect(before.to_device).toBe(0);
    expect(before.device_lists).toBe(0);
    await rooms
      .addEvent(ROOM, bob)
      .then((id) => receipts.sendReceipt(ROOM, alice, 'm.read', id, undefined));
    await presence.setPresence(alice, 'online', undefined);
    await typing.setTyping(ROOM, alice, true, 1_000);
    const after = await streams.currentToken();
    expect(after).toEqual({
      ...before,
      events: before.events + 1,
      receipts: before.receipts + 1,
      presence: before.presence + 1,
      typing: before.typing + 1,
    });
  });
});
