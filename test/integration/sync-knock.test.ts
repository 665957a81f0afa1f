import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import type { RoomUser } from '../helpers/room-users.js';
import { createRoomUsers, enc } from '../helpers/room-users.js';

/** Knocks in `/sync` (`rooms.knock`), and the stripped state of invites and knocks. */
describe('sync: knocks and stripped state', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => server?.stop());

  const sync = (user: RoomUser, query: Record<string, string> = {}): Promise<Json> =>
    user.ok('GET', `/sync?${new URLSearchParams(query).toString()}`);

  const knockRoom = () =>
    alice.createRoom({
      name: 'Knock knock',
      topic: 'Who is there?',
      initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
    });

  const knock = (user: RoomUser, roomId: string) =>
    user.ok('POST', `/knock/${enc(roomId)}`, { reason: 'let me in' });

  /** `type state_key` of stripped events, sorted. */
  const keysOf = (events: Json[]) =>
    events.map((event) => `${event.type} ${event.state_key}`.trimEnd()).sort();

  const memberEvent = async (
    reader: RoomUser,
    roomId: string,
    target: string,
    membership: string,
  ) =>
    (await reader.messages(roomId, 'dir=f&limit=100')).chunk.find(
      (event: Json) =>
        event.type === 'm.room.member' &&
        event.state_key === target &&
        event.content.membership === membership,
    );

  it('lists a knock with its stripped state, once; an accepted knock moves to invite, then join', async () => {
    const roomId = await knockRoom();
    const { next_batch: since } = await sync(bob);
    await knock(bob, roomId);

    const knocked = await sync(bob, { since });
    const knockState = knocked.rooms.knock[roomId].knock_state.events as Json[];
    expect(keysOf(knockState)).toEqual(
      [
        'm.room.create',
        'm.room.join_rules',
        'm.room.name',
        'm.room.topic',
        `m.room.member ${bob.userId}`,
      ].sort(),
    );
    // Stripped: exactly type, state_key, sender and content.
    for (const event of knockState) {
      expect(Object.keys(event).sort()).toEqual(['content', 'sender', 'state_key', 'type']);
    }
    expect(knockState.find((event) => event.type === 'm.room.member')).toEqual({
      type: 'm.room.member',
      state_key: bob.userId,
      sender: bob.userId,
      content: { membership: 'knock', displayname: 'bob', reason: 'let me in' },
    });
    expect(knockState.find((event) => event.type === 'm.room.create').sender).toBe(alice.userId);
    expect(knocked.rooms.join[roomId]).toBeUndefined();
    expect(knocked.rooms.invite[roomId]).toBeUndefined();
    expect(knocked.rooms.leave[roomId]).toBeUndefined();

    // An initial sync lists it too; the next incremental one does not repeat it.
    expect((await sync(bob)).rooms.knock[roomId]).toBeDefined();
    expect((await sync(bob, { since: knocked.next_batch })).rooms.knock[roomId]).toBeUndefined();

    await alice.invite(roomId, bob.userId);
    const invited = await sync(bob, { since: knocked.next_batch });
    expect(invited.rooms.knock[roomId]).toBeUndefined();
    expect(keysOf(invited.rooms.invite[roomId].invite_state.events)).toEqual(
      [
        'm.room.create',
        'm.room.join_rules',
        'm.room.name',
        'm.room.topic',
        `m.room.member ${alice.userId}`,
        `m.room.member ${bob.userId}`,
      ].sort(),
    );

    await bob.join(roomId);
    const joined = await sync(bob, { since: invited.next_batch });
    expect(joined.rooms.join[roomId]).toBeDefined();
    expect(joined.rooms.invite[roomId]).toBeUndefined();
    expect(joined.rooms.knock[roomId]).toBeUndefined();
  });

  it('moves a denied or rescinded knock to leave', async () => {
    const roomId = await knockRoom();
    const { next_batch: bobSince } = await sync(bob);
    const { next_batch: carolSince } = await sync(carol);
    await knock(bob, roomId);
    await knock(carol, roomId);

    await alice.ok('POST', `/rooms/${enc(roomId)}/kick`, { user_id: bob.userId });
    const denied = await sync(bob, { since: bobSince });
    expect(denied.rooms.knock[roomId]).toBeUndefined();
    expect(denied.rooms.leave[roomId].timeline.events.at(-1)).toMatchObject({
      type: 'm.room.member',
      state_key: bob.userId,
      sender: alice.userId,
      content: { membership: 'leave' },
    });

    await carol.leave(roomId);
    const rescinded = await sync(carol, { since: carolSince });
    expect(rescinded.rooms.knock[roomId]).toBeUndefined();
    expect(rescinded.rooms.leave[roomId].timeline.events.at(-1)).toMatchObject({
      type: 'm.room.member',
      state_key: carol.userId,
      sender: carol.userId,
      content: { membership: 'leave' },
    });
  });

  it('a long-poll returns as soon as the user knocks', async () => {
    const roomId = await knockRoom();
    const { next_batch: since } = await sync(carol);
    const started = performance.now();
    const polling = sync(carol, { since, timeout: '20000' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await knock(carol, roomId);
    const body = await polling;
    expect(body.rooms.knock[roomId]).toBeDefined();
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("serves unsigned.invite_room_state and knock_room_state on the user's own invite and knock", async () => {
    const roomId = await knockRoom();
    await knock(bob, roomId);
    await alice.invite(roomId, bob.userId);
    await bob.join(roomId);

    const knockEvent = await memberEvent(bob, roomId, bob.userId, 'knock');
    const inviteEvent = await memberEvent(bob, roomId, bob.userId, 'invite');
    // The room as it was before each: the essentials, and the inviter for an invite.
    expect(keysOf(knockEvent.unsigned.knock_room_state)).toEqual(
      ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.topic'].sort(),
    );
    expect(knockEvent.unsigned.invite_room_state).toBeUndefined();
    expect(keysOf(inviteEvent.unsigned.invite_room_state)).toEqual(
      [
        'm.room.create',
        'm.room.join_rules',
        'm.room.name',
        'm.room.topic',
        `m.room.member ${alice.userId}`,
      ].sort(),
    );
    const fetched = await bob.ok('GET', `/rooms/${enc(roomId)}/event/${enc(inviteEvent.event_id)}`);
    expect(fetched.unsigned.invite_room_state).toEqual(inviteEvent.unsigned.invite_room_state);
    for (const event of inviteEvent.unsigned.invite_room_state as Json[]) {
      expect(Object.keys(event).sort()).toEqual(['content', 'sender', 'state_key', 'type']);
    }

    // Other readers see the events without it.
    const seenByAlice = await memberEvent(alice, roomId, bob.userId, 'invite');
    expect(seenByAlice.unsigned.invite_room_state).toBeUndefined();
    expect(
      (await memberEvent(alice, roomId, bob.userId, 'knock')).unsigned.knock_room_state,
    ).toBeUndefined();
  });
});
