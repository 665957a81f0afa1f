import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import type { RoomUser } from '../helpers/room-users.js';
import { V3, createRoomUsers, enc } from '../helpers/room-users.js';

/** `POST /rooms/{roomId}/upgrade` over HTTP. */
describe('room upgrades', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => server?.stop());

  const upgrade = (user: RoomUser, roomId: string, body: Record<string, unknown>) =>
    user.call('POST', `/rooms/${enc(roomId)}/upgrade`, body);

  const stateOf = async (user: RoomUser, roomId: string, type: string, stateKey = '') =>
    user.ok('GET', `/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`);

  const stateEvents = async (user: RoomUser, roomId: string): Promise<Json[]> =>
    (await user.ok('GET', `/rooms/${enc(roomId)}/state`)) as Json[];

  const joinedRooms = async (user: RoomUser): Promise<string[]> =>
    (await user.ok('GET', '/joined_rooms')).joined_rooms;

  it('refuses bad versions, unknown rooms, outsiders and members without the power', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_version: '10' });
    await bob.join(roomId);
    const before = await joinedRooms(alice);

    expect(await upgrade(alice, roomId, { new_version: '999' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_UNSUPPORTED_ROOM_VERSION' },
    });
    expect(await upgrade(alice, roomId, {})).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
    expect(
      await upgrade(alice, roomId, { new_version: '12', additional_creators: ['not-a-user'] }),
    ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await upgrade(alice, '!unknown:alpha.test', { new_version: '11' })).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND' },
    });
    // Bob is joined with power level 0; m.room.tombstone needs 100.
    expect(await upgrade(bob, roomId, { new_version: '11' })).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(await upgrade(carol, roomId, { new_version: '11' })).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });

    // Nothing was created, nothing was sent into the old room.
    expect(await joinedRooms(alice)).toEqual(before);
    expect(
      (await stateEvents(alice, roomId)).some((event) => event.type === 'm.room.tombstone'),
    ).toBe(false);
  });

  it('carries the state over, tombstones the old room, moves aliases and the listing, and restricts the old room', async () => {
    const alias = '#upgrade-lobby:alpha.test';
    const altAlias = '#upgrade-alt:alpha.test';
    const roomId = await alice.createRoom({
      preset: 'public_chat',
      visibility: 'public',
      room_version: '10',
      room_alias_name: 'upgrade-lobby',
      name: 'Lobby',
      topic: 'All welcome',
      creation_content: { type: 'org.example.lounge', 'org.example.custom': true },
    });
    await bob.join(roomId);
    await carol.join(roomId);
    await alice.ok('PUT', `/directory/room/${enc(altAlias)}`, { room_id: roomId });
    await alice.setState(roomId, 'm.room.canonical_alias', {
      alias,
      alt_aliases: [altAlias],
    });
    await alice.setState(roomId, 'm.room.avatar', { url: 'mxc://alpha.test/avatar' });
    await alice.setState(roomId, 'm.room.history_visibility', {
      history_visibility: 'world_readable',
    });
    await alice.setState(roomId, 'm.room.guest_access', { guest_access: 'can_join' });
    await alice.setState(roomId, 'm.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
    await alice.setState(roomId, 'm.room.server_acl', {
      allow: ['*'],
      deny: ['evil.test'],
      allow_ip_literals: false,
    });
    const levels = await stateOf(alice, roomId, 'm.room.power_levels');
    levels.users[bob.userId] = 10;
    levels.events['org.example.custom'] = 20;
    await alice.setState(roomId, 'm.room.power_levels', levels);
    await alice.ok('POST', `/rooms/${enc(roomId)}/ban`, { user_id: carol.userId, reason: 'spam' });
    await alice.setState(roomId, 'org.example.not_copied', { x: 1 });
    const lastEventId = (await alice.messages(roomId, 'dir=b&limit=1')).chunk[0].event_id;

    const response = await upgrade(alice, roomId, { new_version: '11' });
    expect(response.status).toBe(200);
    const newRoomId = response.body.replacement_room as string;
    expect(Object.keys(response.body)).toEqual(['replacement_room']);
    expect(newRoomId).toMatch(/^![A-Za-z]{18}:alpha\.test$/);

    // The create event: predecessor (the last event before the upgrade), the room type.
    const create = await stateOf(alice, newRoomId, 'm.room.create');
    expect(create).toEqual({
      room_version: '11',
      predecessor: { room_id: roomId, event_id: lastEventId },
      type: 'org.example.lounge',
    });

    // The transferable state, as it was (the old room's power levels are restricted now).
    expect(await stateOf(alice, newRoomId, 'm.room.power_levels')).toEqual(levels);
    for (const type of [
      'm.room.name',
      'm.room.topic',
      'm.room.avatar',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
      'm.room.encryption',
      'm.room.server_acl',
    ]) {
      expect(await stateOf(alice, newRoomId, type), type).toEqual(
        await stateOf(alice, roomId, type),
      );
    }
    expect(await stateOf(alice, newRoomId, 'm.room.canonical_alias')).toEqual({
      alias,
      alt_aliases: [altAlias],
    });
    expect(await stateOf(alice, newRoomId, 'm.room.member', carol.userId)).toEqual({
      membership: 'ban',
      reason: 'spam',
    });
    const newState = await stateEvents(alice, newRoomId);
    expect(newState.some((event) => event.type === 'org.example.not_copied')).toBe(false);
    // Members are not carried over: only the upgrader is in the new room.
    expect(
      newState
        .filter((event) => event.type === 'm.room.member' && event.content.membership === 'join')
        .map((event) => event.state_key),
    ).toEqual([alice.userId]);

    // The old room: tombstone, canonical alias without the moved aliases, restricted levels.
    const tombstone = (await stateEvents(alice, roomId)).find(
      (event) => event.type === 'm.room.tombstone',
    );
    expect(tombstone).toMatchObject({
      sender: alice.userId,
      state_key: '',
      content: { body: 'This room has been replaced', replacement_room: newRoomId },
    });
    expect(await stateOf(alice, roomId, 'm.room.canonical_alias')).toEqual({});
    expect(await stateOf(alice, roomId, 'm.room.power_levels')).toEqual({
      ...levels,
      events_default: 50,
      invite: 50,
    });
    expect(
      await bob.call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1`, {
        msgtype: 'm.text',
        body: 'still here?',
      }),
    ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });

    // Aliases and the directory listing moved.
    for (const moved of [alias, altAlias]) {
      expect(await server.call('GET', `${V3}/directory/room/${enc(moved)}`)).toEqual({
        status: 200,
        body: { room_id: newRoomId, servers: ['alpha.test'] },
      });
    }
    expect(await alice.ok('GET', `/rooms/${enc(newRoomId)}/aliases`)).toEqual({
      aliases: [altAlias, alias],
    });
    expect(await alice.ok('GET', `/rooms/${enc(roomId)}/aliases`)).toEqual({ aliases: [] });
    expect((await alice.ok('GET', `/directory/list/room/${enc(newRoomId)}`)).visibility).toBe(
      'public',
    );
    expect((await alice.ok('GET', `/directory/list/room/${enc(roomId)}`)).visibility).toBe(
      'private',
    );
    const listed = (await alice.ok('GET', '/publicRooms')).chunk.map((room: Json) => room.room_id);
    expect(listed).toContain(newRoomId);
    expect(listed).not.toContain(roomId);

    // The old room's members can join the new one (by the moved alias too); the banned cannot.
    await bob.join(alias);
    await bob.send(newRoomId, 'moved in');
    expect(await carol.call('POST', `/join/${enc(newRoomId)}`, {})).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
  });

  it('lets a moderator with the tombstone level upgrade: raised to copy the state, then the real levels', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_version: '9' });
    await bob.join(roomId);
    const levels = await stateOf(alice, roomId, 'm.room.power_levels');
    levels.users[bob.userId] = 50;
    levels.events['m.room.tombstone'] = 50;
    await alice.setState(roomId, 'm.room.power_levels', levels);

    const response = await upgrade(bob, roomId, { new_version: '10' });
    expect(response.status).toBe(200);
    const newRoomId = response.body.replacement_room as string;
    expect(await stateOf(bob, newRoomId, 'm.room.power_levels')).toEqual(levels);
    const powerEvents = (await bob.messages(newRoomId, 'dir=f&limit=100')).chunk.filter(
      (event: Json) => event.type === 'm.room.power_levels',
    );
    expect(powerEvents).toHaveLength(2);
    expect(powerEvents[0].content.users[bob.userId]).toBe(100);
    // Bob may not change the old room's power levels (100): the upgrade still happened.
    expect(await stateOf(bob, roomId, 'm.room.tombstone')).toEqual({
      body: 'This room has been replaced',
      replacement_room: newRoomId,
    });
    expect(await stateOf(bob, roomId, 'm.room.power_levels')).toEqual(levels);
  });

  it('upgrades to v12 with additional creators, and from v12 to an older version', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_version: '11' });
    await bob.join(roomId);
    const levels = await stateOf(alice, roomId, 'm.room.power_levels');
    levels.users[bob.userId] = 50;
    levels.users[carol.userId] = 25;
    await alice.setState(roomId, 'm.room.power_levels', levels);

    const toV12 = await upgrade(alice, roomId, {
      new_version: '12',
      additional_creators: [bob.userId],
    });
    expect(toV12.status).toBe(200);
    const v12RoomId = toV12.body.replacement_room as string;
    expect(v12RoomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    expect(await stateOf(alice, v12RoomId, 'm.room.create')).toEqual({
      room_version: '12',
      predecessor: { room_id: roomId },
      additional_creators: [bob.userId],
    });
    // Creators are above every level and may not be listed.
    expect((await stateOf(alice, v12RoomId, 'm.room.power_levels')).users).toEqual({
      [carol.userId]: 25,
    });
    expect(await stateOf(alice, roomId, 'm.room.tombstone')).toMatchObject({
      replacement_room: v12RoomId,
    });

    // Bob, an additional creator, joins and upgrades again, back to v11.
    await bob.join(v12RoomId);
    const toV11 = await upgrade(bob, v12RoomId, { new_version: '11' });
    expect(toV11.status).toBe(200);
    const v11RoomId = toV11.body.replacement_room as string;
    expect(await stateOf(bob, v11RoomId, 'm.room.create')).toMatchObject({
      room_version: '11',
      predecessor: { room_id: v12RoomId },
    });
    // v11 has no infinitely powerful creators: Bob gets the highest level the room names.
    const v11Levels = await stateOf(bob, v11RoomId, 'm.room.power_levels');
    expect(v11Levels.users).toEqual({ [carol.userId]: 25, [bob.userId]: 100 });
    await bob.setState(v11RoomId, 'm.room.power_levels', { ...v11Levels, ban: 100 });
  });

  it('copies the children of a space', async () => {
    const spaceId = await alice.createRoom({
      preset: 'public_chat',
      room_version: '11',
      creation_content: { type: 'm.space' },
    });
    const child = await alice.createRoom({ preset: 'public_chat' });
    const removed = await alice.createRoom({ preset: 'public_chat' });
    await alice.setState(spaceId, 'm.space.child', { via: ['alpha.test'] }, child);
    await alice.setState(spaceId, 'm.space.child', {}, removed);

    const response = await upgrade(alice, spaceId, { new_version: '12' });
    expect(response.status).toBe(200);
    const newSpaceId = response.body.replacement_room as string;
    expect((await stateOf(alice, newSpaceId, 'm.room.create')).type).toBe('m.space');
    const children = (await stateEvents(alice, newSpaceId))
      .filter((event) => event.type === 'm.space.child')
      .map((event) => [event.state_key, event.content]);
    expect(children).toEqual([[child, { via: ['alpha.test'] }]]);
  });
});
