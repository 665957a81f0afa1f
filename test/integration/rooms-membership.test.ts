import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PersistedEvent } from '../../src/services/rooms/room-events.js';
import { AccountServer } from '../helpers/account-server.js';
import { RoomUser, createRoomUsers, enc } from '../helpers/room-users.js';

describe('room membership', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start({ allow_guest_access: true, registration_mode: 'open' });
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => server?.stop());

  const membershipOf = async (reader: RoomUser, roomId: string, userId: string) =>
    (await reader.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`)).membership;

  it('joins a public room by ID and by alias, on both join endpoints', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_alias_name: 'lobby' });
    expect(await bob.call('POST', `/rooms/${enc(roomId)}/join`, {})).toEqual({
      status: 200,
      body: { room_id: roomId },
    });
    expect(await carol.call('POST', `/join/${enc('#lobby:alpha.test')}`, { reason: 'hi' })).toEqual(
      {
        status: 200,
        body: { room_id: roomId },
      },
    );
    const carolMember = await alice.ok(
      'GET',
      `/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`,
    );
    expect(carolMember).toEqual({ membership: 'join', displayname: 'carol', reason: 'hi' });
    const joined = await alice.ok('GET', `/rooms/${enc(roomId)}/joined_members`);
    expect(joined).toEqual({
      joined: {
        [alice.userId]: { display_name: 'alice' },
        [bob.userId]: { display_name: 'bob' },
        [carol.userId]: { display_name: 'carol' },
      },
    });
    expect((await bob.ok('GET', '/joined_rooms')).joined_rooms).toContain(roomId);
  });

  it('joining again is a no-op', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(roomId);
    const before = (await alice.messages(roomId, 'dir=b&limit=1')).chunk[0].event_id;
    await bob.join(roomId);
    expect((await alice.messages(roomId, 'dir=b&limit=1')).chunk[0].event_id).toBe(before);
  });

  it('refuses joining an invite-only room without an invite, then accepts the invite', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat' });
    expect(await bob.call('POST', `/rooms/${enc(roomId)}/join`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/invite`, {
        user_id: bob.userId,
        reason: 'come',
      }),
    ).toEqual({
      status: 200,
      body: {},
    });
    expect(await membershipOf(alice, roomId, bob.userId)).toBe('invite');
    await bob.join(roomId);
    expect(await membershipOf(alice, roomId, bob.userId)).toBe('join');
  });

  it('answers 404 for unknown rooms and aliases, saying when federation would be needed', async () => {
    expect(await bob.call('POST', `/join/${enc('!unknown:alpha.test')}`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect(await bob.call('POST', `/join/${enc('!room:elsewhere.test')}`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND', error: expect.stringContaining('federation') },
    });
    expect(await bob.call('POST', `/join/${enc('#room:elsewhere.test')}`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND', error: expect.stringContaining('federation') },
    });
    expect(await bob.call('POST', `/join/${enc('#nothing:alpha.test')}`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect(await bob.call('POST', `/rooms/${enc('!unknown:alpha.test')}/leave`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
  });

  it('refuses malformed room IDs and user IDs with M_INVALID_PARAM / M_BAD_JSON', async () => {
    expect(await bob.call('POST', `/join/not-a-room`, {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect(await bob.call('POST', `/rooms/not-a-room/leave`, {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    const roomId = await alice.createRoom();
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/invite`, { user_id: 'bob' }),
    ).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await alice.call('POST', `/rooms/${enc(roomId)}/invite`, {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
  });

  it('invites: an unreachable server is 502 (federation), unknown users 404, non-members 403', async () => {
    const roomId = await alice.createRoom();
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/invite`, { user_id: '@x:elsewhere.test' }),
    ).toMatchObject({
      status: 502,
      body: { errcode: 'M_UNKNOWN', error: expect.stringContaining('could not be reached') },
    });
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/invite`, { user_id: '@ghost:alpha.test' }),
    ).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    expect(
      await bob.call('POST', `/rooms/${enc(roomId)}/invite`, { user_id: carol.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(
      await bob.call('POST', `/rooms/${enc('!nope:alpha.test')}/invite`, { user_id: carol.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
  });

  it('kicks, bans and unbans; a banned user cannot join; powers are checked', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(roomId);
    await carol.join(roomId);
    // Bob (level 0) may not kick Carol.
    expect(
      await bob.call('POST', `/rooms/${enc(roomId)}/kick`, { user_id: carol.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    await alice.ok('POST', `/rooms/${enc(roomId)}/kick`, { user_id: bob.userId, reason: 'out' });
    const kicked = await alice.ok(
      'GET',
      `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}?format=event`,
    );
    expect(kicked).toMatchObject({
      sender: alice.userId,
      content: { membership: 'leave', reason: 'out' },
    });
    // Kicking someone not in the room is refused.
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/kick`, { user_id: bob.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });

    await alice.ok('POST', `/rooms/${enc(roomId)}/ban`, { user_id: carol.userId, reason: 'spam' });
    expect(await membershipOf(alice, roomId, carol.userId)).toBe('ban');
    expect(await carol.call('POST', `/join/${enc(roomId)}`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(
      await bob.call('POST', `/rooms/${enc(roomId)}/unban`, { user_id: carol.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    // Unbanning someone who is not banned is refused.
    expect(
      await alice.call('POST', `/rooms/${enc(roomId)}/unban`, { user_id: bob.userId }),
    ).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    await alice.ok('POST', `/rooms/${enc(roomId)}/unban`, { user_id: carol.userId });
    expect(await membershipOf(alice, roomId, carol.userId)).toBe('leave');
    await carol.join(roomId);
  });

  it('leaves, rejects invites, and forgets', async () => {
    const roomId = await alice.createRoom({ invite: [bob.userId] });
    await bob.ok('POST', `/rooms/${enc(roomId)}/leave`, { reason: 'no thanks' });
    expect(await membershipOf(alice, roomId, bob.userId)).toBe('leave');
    // Leaving again changes nothing.
    await bob.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
    // Never a member: nothing to leave.
    expect(await carol.call('POST', `/rooms/${enc(roomId)}/leave`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });

    await alice.send(roomId, 'still here');
    expect(await alice.call('POST', `/rooms/${enc(roomId)}/forget`, {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_UNKNOWN' },
    });
    await alice.leave(roomId);
    // History stays readable after leaving, until forgotten.
    expect((await alice.messages(roomId, 'dir=b')).chunk.length).toBeGreaterThan(0);
    expect(await alice.call('POST', `/rooms/${enc(roomId)}/forget`, {})).toEqual({
      status: 200,
      body: {},
    });
    expect(await alice.call('GET', `/rooms/${enc(roomId)}/messages?dir=b`)).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(await alice.call('GET', `/rooms/${enc(roomId)}/state`)).toMatchObject({ status: 403 });
    expect((await alice.ok('GET', '/joined_rooms')).joined_rooms).not.toContain(roomId);
    // Forgetting a room one was never in is fine.
    expect(await carol.call('POST', `/rooms/${enc(roomId)}/forget`, {})).toEqual({
      status: 200,
      body: {},
    });
  });

  it('knocks on a knock room (v7+), and is refused elsewhere', async () => {
    const roomId = await alice.createRoom({
      room_version: '10',
      initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
      room_alias_name: 'knocking',
    });
    expect(
      await bob.call('POST', `/knock/${enc('#knocking:alpha.test')}`, { reason: 'let me in' }),
    ).toEqual({
      status: 200,
      body: { room_id: roomId },
    });
    expect(
      await alice.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`),
    ).toEqual({
      membership: 'knock',
      displayname: 'bob',
      reason: 'let me in',
    });
    // Joining directly is refused; an invite lets the knocker in.
    expect(await bob.call('POST', `/join/${enc(roomId)}`, {})).toMatchObject({ status: 403 });
    await alice.invite(roomId, bob.userId);
    await bob.join(roomId);

    const inviteOnly = await alice.createRoom({ room_version: '10' });
    expect(await carol.call('POST', `/knock/${enc(inviteOnly)}`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    const oldRoom = await alice.createRoom({
      room_version: '6',
      initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }],
    });
    expect(await carol.call('POST', `/knock/${enc(oldRoom)}`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(await carol.call('POST', `/knock/${enc('!unknown:alpha.test')}`, {})).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
  });

  it('joins a restricted room through membership of an allowed room', async () => {
    const space = await alice.createRoom({ preset: 'public_chat' });
    const restricted = await alice.createRoom({
      room_version: '10',
      initial_state: [
        {
          type: 'm.room.join_rules',
          content: {
            join_rule: 'restricted',
            allow: [{ type: 'm.room_membership', room_id: space }],
          },
        },
      ],
    });
    const dave = (await createRoomUsers(server, ['dave']))[0];
    expect(await dave.call('POST', `/join/${enc(restricted)}`, {})).toMatchObject({ status: 403 });
    await dave.join(space);
    await dave.join(restricted);
    expect(
      await alice.ok('GET', `/rooms/${enc(restricted)}/state/m.room.member/${enc(dave.userId)}`),
    ).toMatchObject({
      membership: 'join',
      join_authorised_via_users_server: alice.userId,
    });
  });

  it('guests join only rooms that allow guests', async () => {
    const registered = await server.call('POST', '/_matrix/client/v3/register?kind=guest', {
      body: {},
    });
    expect(registered.status).toBe(200);
    const guest = new RoomUser(
      server,
      registered.body.user_id,
      registered.body.access_token,
      registered.body.device_id,
    );
    const open = await alice.createRoom({ preset: 'private_chat', invite: [guest.userId] });
    const closed = await alice.createRoom({ preset: 'public_chat' });
    await guest.ok('POST', `/rooms/${enc(open)}/join`, {});
    expect(await guest.call('POST', `/rooms/${enc(closed)}/join`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    // /join/{roomIdOrAlias} is not among the guest endpoints.
    expect(await guest.call('POST', `/join/${enc(open)}`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_GUEST_ACCESS_FORBIDDEN' },
    });
    await guest.send(open, 'hello from a guest');
    expect(await guest.call('POST', '/createRoom', {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_GUEST_ACCESS_FORBIDDEN' },
    });
  });

  it('sends new member events when a profile changes, and announces persisted events', async () => {
    const roomA = await alice.createRoom({ preset: 'public_chat' });
    const roomB = await alice.createRoom({ preset: 'public_chat', room_version: '1' });
    await bob.join(roomA);
    await bob.join(roomB);
    const announced: PersistedEvent[] = [];
    const unsubscribe = server.context.services.roomEvents.persisted.add((event) => {
      announced.push(event);
    });
    try {
      await bob.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { displayname: 'Bobby' });
    } finally {
      unsubscribe();
    }
    for (const roomId of [roomA, roomB]) {
      const member = await alice.ok(
        'GET',
        `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`,
      );
      expect(member).toEqual({ membership: 'join', displayname: 'Bobby' });
      expect(
        (await alice.ok('GET', `/rooms/${enc(roomId)}/joined_members`)).joined[bob.userId],
      ).toEqual({
        display_name: 'Bobby',
      });
    }
    expect(announced.map((e) => [e.roomId, e.type, e.stateKey, e.sender, e.membership])).toEqual(
      expect.arrayContaining([
        [roomA, 'm.room.member', bob.userId, bob.userId, 'join'],
        [roomB, 'm.room.member', bob.userId, bob.userId, 'join'],
      ]),
    );
    expect(announced.every((e) => Number.isInteger(e.streamOrdering))).toBe(true);
  });

  it('a deactivated user leaves their rooms', async () => {
    const [erin] = await createRoomUsers(server, ['erin']);
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await erin.join(roomId);
    const invited = await alice.createRoom({ invite: [erin.userId] });
    await erin.ok('POST', '/account/deactivate', {
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'erin' },
        password: 'erin-password',
      },
    });
    expect(await membershipOf(alice, roomId, erin.userId)).toBe('leave');
    expect(await membershipOf(alice, invited, erin.userId)).toBe('leave');
  });
});
