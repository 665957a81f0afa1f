import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import type { RoomUser } from '../helpers/room-users.js';
import { createRoomUsers, enc, summarize } from '../helpers/room-users.js';

/** The room's state as `type state_key` → content. */
async function stateOf(user: RoomUser, roomId: string): Promise<Record<string, Json>> {
  const events = (await user.ok('GET', `/rooms/${enc(roomId)}/state`)) as Json[];
  return Object.fromEntries(events.map((e) => [`${e.type} ${e.state_key}`.trimEnd(), e.content]));
}

describe('POST /createRoom', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
  });
  afterAll(async () => server?.stop());

  it('creates a v12 room by default, its ID derived from the create event', async () => {
    const roomId = await alice.createRoom();
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    const create = await alice.ok('GET', `/rooms/${enc(roomId)}/state/m.room.create?format=event`);
    expect(create.event_id).toBe(`$${roomId.slice(1)}`);
    expect(create.content).toEqual({ room_version: '12' });
    expect(create.sender).toBe(alice.userId);
    const levels = await alice.ok('GET', `/rooms/${enc(roomId)}/state/m.room.power_levels`);
    // v12: the creator has infinite power and is not listed; tombstone above state_default.
    expect(levels.users).toEqual({});
    expect(levels.events['m.room.tombstone']).toBe(150);
    expect(levels.invite).toBe(0);
  });

  it('sends the initial events in the spec order', async () => {
    const roomId = await alice.createRoom({
      preset: 'public_chat',
      room_alias_name: 'order',
      initial_state: [
        { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
      ],
      name: 'Order',
      topic: 'About order',
      invite: [bob.userId],
    });
    const { chunk } = await alice.messages(roomId, 'dir=f&limit=50');
    expect(summarize(chunk)).toEqual([
      'm.room.create',
      `m.room.member ${alice.userId}`,
      'm.room.power_levels',
      'm.room.canonical_alias',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
      'm.room.encryption',
      'm.room.name',
      'm.room.topic',
      `m.room.member ${bob.userId}`,
    ]);
  });

  for (const version of ['12', '10']) {
    describe(`room version ${version}`, () => {
      it('applies every option to the resulting state', async () => {
        const roomId = await alice.createRoom({
          room_version: version,
          preset: 'private_chat',
          name: 'Book club',
          topic: 'Novels',
          invite: [bob.userId],
          is_direct: true,
          room_alias_name: `club${version}`,
          visibility: 'public',
          creation_content: { 'm.federate': false, type: 'org.example.club' },
          initial_state: [
            { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
            { type: 'org.example.setting', state_key: 'k', content: { on: true } },
          ],
          power_level_content_override: { events_default: 10, kick: 60 },
        });
        if (version === '12') expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
        else expect(roomId).toMatch(/^![A-Za-z]{18}:alpha\.test$/);

        const state = await stateOf(alice, roomId);
        expect(state['m.room.create']).toEqual({
          room_version: version,
          'm.federate': false,
          type: 'org.example.club',
          ...(version === '10' ? { creator: alice.userId } : {}),
        });
        expect(state[`m.room.member ${alice.userId}`]).toEqual({
          membership: 'join',
          displayname: 'alice',
        });
        expect(state[`m.room.member ${bob.userId}`]).toEqual({
          membership: 'invite',
          displayname: 'bob',
          is_direct: true,
        });
        const levels = state['m.room.power_levels'];
        expect(levels.users).toEqual(version === '12' ? {} : { [alice.userId]: 100 });
        expect(levels.events_default).toBe(10);
        expect(levels.kick).toBe(60);
        expect(levels.events['m.room.tombstone']).toBe(version === '12' ? 150 : 100);
        expect(state['m.room.join_rules']).toEqual({ join_rule: 'invite' });
        // initial_state wins over the preset.
        expect(state['m.room.history_visibility']).toEqual({ history_visibility: 'joined' });
        expect(state['m.room.guest_access']).toEqual({ guest_access: 'can_join' });
        expect(state['m.room.name']).toEqual({ name: 'Book club' });
        expect(state['m.room.topic']).toEqual({
          topic: 'Novels',
          'm.topic': { 'm.text': [{ body: 'Novels', mimetype: 'text/plain' }] },
        });
        expect(state['m.room.canonical_alias']).toEqual({ alias: `#club${version}:alpha.test` });
        expect(state['org.example.setting k']).toEqual({ on: true });

        expect(
          await server.call(
            'GET',
            `/_matrix/client/v3/directory/room/${enc(`#club${version}:alpha.test`)}`,
          ),
        ).toEqual({
          status: 200,
          body: { room_id: roomId, servers: ['alpha.test'] },
        });
        expect((await alice.ok('GET', `/directory/list/room/${enc(roomId)}`)).visibility).toBe(
          'public',
        );
      });

      it('public_chat: public join rule, guests forbidden, invite level 50', async () => {
        const roomId = await alice.createRoom({ room_version: version, preset: 'public_chat' });
        const state = await stateOf(alice, roomId);
        expect(state['m.room.join_rules']).toEqual({ join_rule: 'public' });
        expect(state['m.room.history_visibility']).toEqual({ history_visibility: 'shared' });
        expect(state['m.room.guest_access']).toEqual({ guest_access: 'forbidden' });
        expect(state['m.room.power_levels'].invite).toBe(50);
        // Not listed unless asked.
        expect((await alice.ok('GET', `/directory/list/room/${enc(roomId)}`)).visibility).toBe(
          'private',
        );
      });

      it('visibility public without a preset means public_chat', async () => {
        const roomId = await alice.createRoom({ room_version: version, visibility: 'public' });
        expect((await stateOf(alice, roomId))['m.room.join_rules']).toEqual({
          join_rule: 'public',
        });
      });

      it('trusted_private_chat: invitees are as powerful as the creator', async () => {
        const roomId = await alice.createRoom({
          room_version: version,
          preset: 'trusted_private_chat',
          invite: [bob.userId],
        });
        const state = await stateOf(alice, roomId);
        if (version === '12') {
          expect(state['m.room.create'].additional_creators).toEqual([bob.userId]);
          expect(state['m.room.power_levels'].users).toEqual({});
        } else {
          expect(state['m.room.create'].additional_creators).toBeUndefined();
          expect(state['m.room.power_levels'].users).toEqual({
            [alice.userId]: 100,
            [bob.userId]: 100,
          });
        }
        await bob.join(roomId);
        // Bob may now change what only the most powerful may change.
        await bob.setState(roomId, 'm.room.history_visibility', { history_visibility: 'joined' });
      });
    });
  }

  it('v12: additional_creators from creation_content are creators', async () => {
    const roomId = await alice.createRoom({
      creation_content: { additional_creators: [carol.userId] },
    });
    expect((await stateOf(alice, roomId))['m.room.create'].additional_creators).toEqual([
      carol.userId,
    ]);
    await alice.invite(roomId, carol.userId);
    await carol.join(roomId);
    await carol.setState(roomId, 'm.room.power_levels', { users: { [bob.userId]: 100 } });
  });

  it('refuses an unknown room version', async () => {
    expect(await alice.call('POST', '/createRoom', { room_version: '99' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_UNSUPPORTED_ROOM_VERSION' },
    });
  });

  it('refuses an alias in use, and invalid alias localparts', async () => {
    const before = (await bob.ok('GET', '/joined_rooms')).joined_rooms;
    await alice.createRoom({ room_alias_name: 'taken' });
    expect(await bob.call('POST', '/createRoom', { room_alias_name: 'taken' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_ROOM_IN_USE' },
    });
    expect(await bob.call('POST', '/createRoom', { room_alias_name: 'a:b' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    // Bob is in no new room: the refusals left nothing behind.
    expect((await bob.ok('GET', '/joined_rooms')).joined_rooms).toEqual(before);
  });

  it('refuses initial state the auth rules refuse, storing nothing', async () => {
    const before = (await alice.ok('GET', '/joined_rooms')).joined_rooms;
    for (const body of [
      // v12: creators may not be listed in the power levels.
      { power_level_content_override: { users: { '@alice:alpha.test': 100 } } },
      // A state event nobody may send.
      {
        room_version: '10',
        power_level_content_override: { state_default: 200 },
        name: 'Too high',
      },
    ]) {
      expect(await alice.call('POST', '/createRoom', body)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_ROOM_STATE' },
      });
    }
    expect((await alice.ok('GET', '/joined_rooms')).joined_rooms).toEqual(before);
  });

  it('refuses unknown users and 3pid invites; an unreachable server’s user is not invited', async () => {
    // Users of other servers are invited over federation once the room exists; one whose server
    // cannot be reached is left out (see federation-membership.test.ts for invites that work).
    const created = await alice.call('POST', '/createRoom', { invite: ['@dave:elsewhere.test'] });
    expect(created.status).toBe(200);
    const members = await alice.ok('GET', `/rooms/${enc(created.body.room_id)}/members`);
    expect(members.chunk.map((event: { state_key: string }) => event.state_key)).toEqual([
      alice.userId,
    ]);
    expect(
      await alice.call('POST', '/createRoom', { invite: ['@nobody:alpha.test'] }),
    ).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect(
      await alice.call('POST', '/createRoom', {
        invite_3pid: [
          { id_server: 'id.test', id_access_token: 'x', medium: 'email', address: 'a@b.c' },
        ],
      }),
    ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('refuses a malformed body', async () => {
    expect(await alice.call('POST', '/createRoom', { preset: 'nope' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(
      await alice.call('POST', '/createRoom', { initial_state: [{ type: 'x' }] }),
    ).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
  });

  it('creates rooms of every known version', async () => {
    for (let version = 1; version <= 12; version++) {
      const roomId = await alice.createRoom({ room_version: String(version), name: `v${version}` });
      const name = await alice.ok('GET', `/rooms/${enc(roomId)}/state/m.room.name`);
      expect(name).toEqual({ name: `v${version}` });
      await alice.send(roomId, 'hello');
    }
  });
});
