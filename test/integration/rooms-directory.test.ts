import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';
import { RoomUser, V3, createRoomUsers, enc } from '../helpers/room-users.js';

describe('room aliases and the room directory', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  let admin: RoomUser;
  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
    const created = await server.createUser('admin', 'admin-password', { admin: true });
    admin = new RoomUser(server, created.userId, created.accessToken, created.deviceId);
  });
  afterAll(async () => server?.stop());

  describe('aliases', () => {
    it('creates, resolves (without a token), lists and deletes aliases', async () => {
      const roomId = await alice.createRoom({ preset: 'public_chat' });
      const alias = '#garden:alpha.test';
      expect(await alice.call('PUT', `/directory/room/${enc(alias)}`, { room_id: roomId })).toEqual(
        {
          status: 200,
          body: {},
        },
      );
      expect(await server.call('GET', `${V3}/directory/room/${enc(alias)}`)).toEqual({
        status: 200,
        body: { room_id: roomId, servers: ['alpha.test'] },
      });
      await bob.join(alias);
      await bob.ok('PUT', `/directory/room/${enc('#garden-bob:alpha.test')}`, { room_id: roomId });
      expect(await alice.ok('GET', `/rooms/${enc(roomId)}/aliases`)).toEqual({
        aliases: ['#garden-bob:alpha.test', '#garden:alpha.test'],
      });
      // Carol is not in the room (not world readable).
      expect(await carol.call('GET', `/rooms/${enc(roomId)}/aliases`)).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      // Bob created his alias: he may delete it, not Alice's (he cannot edit aliases).
      expect(await bob.call('DELETE', `/directory/room/${enc(alias)}`)).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      await bob.ok('DELETE', `/directory/room/${enc('#garden-bob:alpha.test')}`);
      // Alice (power to change the canonical alias) may delete any alias of the room.
      await alice.ok('PUT', `/directory/room/${enc('#garden-2:alpha.test')}`, { room_id: roomId });
      await alice.ok('DELETE', `/directory/room/${enc(alias)}`);
      expect(await server.call('GET', `${V3}/directory/room/${enc(alias)}`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(await alice.call('DELETE', `/directory/room/${enc(alias)}`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      // A server admin may delete any alias.
      await admin.ok('DELETE', `/directory/room/${enc('#garden-2:alpha.test')}`);
    });

    it('refuses conflicts, other servers, non-members, unknown rooms and malformed aliases', async () => {
      const roomId = await alice.createRoom({ room_alias_name: 'taken-alias' });
      expect(
        await alice.call('PUT', `/directory/room/${enc('#taken-alias:alpha.test')}`, {
          room_id: roomId,
        }),
      ).toMatchObject({ status: 409, body: { errcode: 'M_UNKNOWN' } });
      expect(
        await alice.call('PUT', `/directory/room/${enc('#x:elsewhere.test')}`, { room_id: roomId }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect(
        await bob.call('PUT', `/directory/room/${enc('#bobs:alpha.test')}`, { room_id: roomId }),
      ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      // A server admin need not be in the room.
      await admin.ok('PUT', `/directory/room/${enc('#admins:alpha.test')}`, { room_id: roomId });
      expect(
        await alice.call('PUT', `/directory/room/${enc('#ghost:alpha.test')}`, {
          room_id: '!ghost:alpha.test',
        }),
      ).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(await alice.call('PUT', `/directory/room/garden`, { room_id: roomId })).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(
        await alice.call('PUT', `/directory/room/${enc('#y:alpha.test')}`, { room_id: 'nope' }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
      expect(
        await server.call('GET', `${V3}/directory/room/${enc('#x:elsewhere.test')}`),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND', error: expect.stringContaining('federation') },
      });
    });
  });

  describe('the published room directory', () => {
    it('publishes and unpublishes rooms; only those allowed may', async () => {
      const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Published' });
      const visibility = `${V3}/directory/list/room/${enc(roomId)}`;
      expect(await server.call('GET', visibility)).toEqual({
        status: 200,
        body: { visibility: 'private' },
      });
      await bob.join(roomId);
      expect(
        await bob.call('PUT', `/directory/list/room/${enc(roomId)}`, { visibility: 'public' }),
      ).toMatchObject({
        status: 403,
        body: { errcode: 'M_FORBIDDEN' },
      });
      await alice.ok('PUT', `/directory/list/room/${enc(roomId)}`, {});
      expect(await server.call('GET', visibility)).toEqual({
        status: 200,
        body: { visibility: 'public' },
      });
      await alice.ok('PUT', `/directory/list/room/${enc(roomId)}`, { visibility: 'private' });
      expect((await server.call('GET', visibility)).body.visibility).toBe('private');
      await admin.ok('PUT', `/directory/list/room/${enc(roomId)}`, { visibility: 'public' });
      expect((await server.call('GET', visibility)).body.visibility).toBe('public');
      expect(
        await server.call('GET', `${V3}/directory/list/room/${enc('!nope:alpha.test')}`),
      ).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(
        await alice.call('PUT', `/directory/list/room/${enc('!nope:alpha.test')}`, {}),
      ).toMatchObject({
        status: 404,
      });
      expect(
        await alice.call('PUT', `/directory/list/room/${enc(roomId)}`, { visibility: 'secret' }),
      ).toMatchObject({
        status: 400,
        body: { errcode: 'M_BAD_JSON' },
      });
    });

    it('lists published rooms with their summaries, paginated and searchable', async () => {
      const [dave] = await createRoomUsers(server, ['dave']);
      const big = await dave.createRoom({
        visibility: 'public',
        name: 'Big room',
        topic: 'Lots of people',
        room_alias_name: 'big',
        initial_state: [
          { type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } },
          { type: 'm.room.avatar', content: { url: 'mxc://alpha.test/avatar' } },
        ],
      });
      await carol.join(big);
      await bob.join(big);
      const small = await dave.createRoom({
        visibility: 'public',
        name: 'Small room',
        preset: 'private_chat',
        creation_content: { type: 'm.space' },
      });
      await dave.createRoom({ name: 'Not published', preset: 'public_chat' });

      const page = await server.call('GET', `${V3}/publicRooms`);
      expect(page.status).toBe(200);
      const mine = page.body.chunk.filter((room: { room_id: string }) =>
        [big, small].includes(room.room_id),
      );
      expect(mine).toEqual([
        {
          room_id: big,
          name: 'Big room',
          topic: 'Lots of people',
          canonical_alias: '#big:alpha.test',
          avatar_url: 'mxc://alpha.test/avatar',
          num_joined_members: 3,
          world_readable: true,
          guest_can_join: false,
          join_rule: 'public',
        },
        {
          room_id: small,
          name: 'Small room',
          num_joined_members: 1,
          world_readable: false,
          guest_can_join: true,
          join_rule: 'invite',
          room_type: 'm.space',
        },
      ]);
      expect(page.body.total_room_count_estimate).toBe(page.body.chunk.length);
      // The biggest room comes first.
      expect(page.body.chunk[0].room_id).toBe(big);

      const total = page.body.total_room_count_estimate as number;
      const first = await server.call('GET', `${V3}/publicRooms?limit=1`);
      expect(first.body.chunk).toHaveLength(1);
      expect(first.body.next_batch).toBe('p1');
      expect(first.body.prev_batch).toBeUndefined();
      const second = await server.call('GET', `${V3}/publicRooms?limit=1&since=p1`);
      expect(second.body.chunk[0].room_id).toBe(page.body.chunk[1].room_id);
      expect(second.body.prev_batch).toBe('p0');
      const last = await server.call('GET', `${V3}/publicRooms?limit=1&since=p${total - 1}`);
      expect(last.body.next_batch).toBeUndefined();

      const search = await alice.ok('POST', '/publicRooms', {
        filter: { generic_search_term: 'PEOPLE' },
      });
      expect(search.chunk.map((room: { room_id: string }) => room.room_id)).toEqual([big]);
      const spaces = await alice.ok('POST', '/publicRooms', {
        filter: { room_types: ['m.space'] },
      });
      expect(spaces.chunk.map((room: { room_id: string }) => room.room_id)).toEqual([small]);
      const plain = await alice.ok('POST', '/publicRooms', { filter: { room_types: [null] } });
      expect(plain.chunk.map((room: { room_id: string }) => room.room_id)).not.toContain(small);
      const own = await alice.ok('POST', '/publicRooms?server=alpha.test', { limit: 1 });
      expect(own.chunk).toHaveLength(1);

      // Another server's directory is asked of it; one that cannot be reached: 502.
      expect(await alice.call('POST', '/publicRooms?server=elsewhere.test', {})).toMatchObject({
        status: 502,
        body: { errcode: 'M_UNKNOWN', error: expect.stringContaining('elsewhere.test') },
      });
      expect(await server.call('GET', `${V3}/publicRooms?since=garbage`)).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
      expect(await server.call('POST', `${V3}/publicRooms`, { body: {} })).toMatchObject({
        status: 401,
        body: { errcode: 'M_MISSING_TOKEN' },
      });
    });
  });
});
