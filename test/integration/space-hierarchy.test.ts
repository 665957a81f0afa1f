import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xMatrixHeader } from '../../src/protocol/x-matrix.js';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';
import { createRoomUsers, enc, type RoomUser } from '../helpers/room-users.js';

/**
 * Space hierarchies between two real tenants: a space of alpha with public, invite-only,
 * suggested and nested children and one child room on beta. Clients walk it depth first
 * (`/_matrix/client/v1/rooms/{roomId}/hierarchy`, the remote child described by beta's
 * `/hierarchy`), seeing what they may; beta asks alpha's `/hierarchy` over federation.
 */
describe('space hierarchy', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let amy: RoomUser;
  let bob: RoomUser;
  let space: string;
  const rooms: Record<string, string> = {};

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    [alice, amy] = await createRoomUsers(alpha, ['alice', 'amy']);
    [bob] = await createRoomUsers(beta, ['bob']);
    space = await alice.createRoom({
      preset: 'public_chat',
      name: 'Space',
      creation_content: { type: 'm.space' },
    });
    rooms.public = await alice.createRoom({ preset: 'public_chat', name: 'Public' });
    rooms.private = await alice.createRoom({ preset: 'private_chat', name: 'Private' });
    rooms.subspace = await alice.createRoom({
      preset: 'public_chat',
      name: 'Subspace',
      creation_content: { type: 'm.space' },
    });
    rooms.nested = await alice.createRoom({ preset: 'public_chat', name: 'Nested' });
    rooms.suggested = await alice.createRoom({ preset: 'public_chat', name: 'Suggested' });
    rooms.remote = await bob.createRoom({ preset: 'public_chat', name: 'On beta' });
    const child = (roomId: string, content: Record<string, unknown>, parent = space) =>
      alice.setState(parent, 'm.space.child', content, roomId);
    await child(rooms.public, { via: ['alpha.test'], order: 'a' });
    await child(rooms.private, { via: ['alpha.test'], order: 'b' });
    await child(rooms.subspace, { via: ['alpha.test'], order: 'c' });
    await child(rooms.suggested, { via: ['alpha.test'], order: 'd', suggested: true });
    await child(rooms.remote, { via: ['beta.test'], order: 'e' });
    // Not a child: no `via`.
    await child(rooms.nested, {}, space);
    await child(rooms.nested, { via: ['alpha.test'] }, rooms.subspace);
  });
  afterAll(async () => stop?.());

  const hierarchy = (user: RoomUser, roomId: string, query = '') =>
    user.call('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy${query}`);

  const names = (body: Json) => (body.rooms as Json[]).map((room) => room.name as string);

  it('walks the tree depth first, in order, remote children included', async () => {
    const response = await hierarchy(alice, space);
    expect(response.status).toBe(200);
    expect(names(response.body)).toEqual([
      'Space',
      'Public',
      'Private',
      'Subspace',
      'Nested',
      'Suggested',
      'On beta',
    ]);
    expect(response.body.next_batch).toBeUndefined();
    const [root] = response.body.rooms as Json[];
    expect(root).toMatchObject({
      room_id: space,
      room_type: 'm.space',
      join_rule: 'public',
      num_joined_members: 1,
      world_readable: false,
      guest_can_join: false,
    });
    expect((root.children_state as Json[]).map((child) => child.state_key)).toEqual([
      rooms.public,
      rooms.private,
      rooms.subspace,
      rooms.suggested,
      rooms.remote,
    ]);
    expect(root.children_state[0]).toEqual({
      type: 'm.space.child',
      state_key: rooms.public,
      content: { via: ['alpha.test'], order: 'a' },
      sender: alice.userId,
      origin_server_ts: expect.any(Number),
    });
    const remote = (response.body.rooms as Json[]).find((room) => room.room_id === rooms.remote);
    expect(remote).toMatchObject({
      join_rule: 'public',
      num_joined_members: 1,
      children_state: [],
    });
  });

  it('shows others only what they may join or peek; honours suggested_only and max_depth', async () => {
    expect(names((await hierarchy(amy, space)).body)).toEqual([
      'Space',
      'Public',
      'Subspace',
      'Nested',
      'Suggested',
      'On beta',
    ]);
    expect(names((await hierarchy(amy, space, '?suggested_only=true')).body)).toEqual([
      'Space',
      'Suggested',
    ]);
    expect(names((await hierarchy(alice, space, '?max_depth=1')).body)).toEqual([
      'Space',
      'Public',
      'Private',
      'Subspace',
      'Suggested',
      'On beta',
    ]);
    expect(names((await hierarchy(alice, space, '?max_depth=0')).body)).toEqual(['Space']);
    expect(await hierarchy(amy, rooms.private as string)).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(await hierarchy(amy, '!unknown:alpha.test')).toMatchObject({ status: 403 });
  });

  it('paginates with next_batch, and refuses a token with other parameters', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const response = await hierarchy(
        alice,
        space,
        `?limit=3${from === undefined ? '' : `&from=${enc(from)}`}`,
      );
      expect(response.status).toBe(200);
      expect((response.body.rooms as Json[]).length).toBeLessThanOrEqual(3);
      seen.push(...names(response.body));
      from = response.body.next_batch;
      if (from === undefined) break;
    }
    expect(seen).toEqual(names((await hierarchy(alice, space)).body));

    const first = await hierarchy(alice, space, '?limit=2');
    const token = first.body.next_batch as string;
    for (const query of [
      `?from=${enc(token)}&suggested_only=true`,
      `?from=${enc(token)}&max_depth=1`,
      '?from=nonsense',
      '?limit=0',
      '?max_depth=-1',
    ]) {
      expect(await hierarchy(alice, space, query), query).toMatchObject({
        status: 400,
        body: { errcode: 'M_INVALID_PARAM' },
      });
    }
  });

  /** A federation request from beta.test to alpha.test, signed with beta's key. */
  async function fromBeta(path: string) {
    const authorization = xMatrixHeader(
      { method: 'GET', uri: path, origin: 'beta.test', destination: 'alpha.test' },
      beta.context.services.serverKeys.signingKey,
    );
    return alpha.call('GET', path, { headers: { authorization } });
  }

  it('answers /hierarchy over federation: the room, its known children, the inaccessible ones', async () => {
    const response = await fromBeta(`/_matrix/federation/v1/hierarchy/${enc(space)}`);
    expect(response.status).toBe(200);
    expect(response.body.room).toMatchObject({
      room_id: space,
      name: 'Space',
      room_type: 'm.space',
    });
    expect((response.body.room.children_state as Json[]).length).toBe(5);
    expect((response.body.children as Json[]).map((room) => room.name)).toEqual([
      'Public',
      'Subspace',
      'Suggested',
    ]);
    const subspace = (response.body.children as Json[]).find((room) => room.name === 'Subspace');
    expect(subspace.children_state.map((child: Json) => child.state_key)).toEqual([rooms.nested]);
    expect(response.body.inaccessible_children).toEqual([rooms.private]);

    const suggested = await fromBeta(
      `/_matrix/federation/v1/hierarchy/${enc(space)}?suggested_only=true`,
    );
    expect((suggested.body.children as Json[]).map((room) => room.name)).toEqual(['Suggested']);
    expect(suggested.body.room.children_state.map((child: Json) => child.state_key)).toEqual([
      rooms.suggested,
    ]);

    for (const roomId of [rooms.private as string, '!unknown:alpha.test']) {
      expect(await fromBeta(`/_matrix/federation/v1/hierarchy/${enc(roomId)}`)).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    }
    const unsigned = await alpha.call('GET', `/_matrix/federation/v1/hierarchy/${enc(space)}`);
    expect(unsigned.status).toBe(401);
  });
});
