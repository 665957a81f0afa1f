import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRoomVersion } from '../../src/protocol/room-versions.js';
import { xMatrixHeader } from '../../src/protocol/x-matrix.js';
import { eventFromTemplate } from '../../src/services/federation/membership-events.js';
import { buildEvent } from '../../src/services/rooms/event-builder.js';
import type { AccountServer, Json } from '../helpers/account-server.js';
import { startFederationPeers } from '../helpers/federation-pair.js';
import { RemoteHomeserver } from '../helpers/remote-homeserver.js';
import { createRoomUsers, enc, type RoomUser } from '../helpers/room-users.js';

/**
 * Membership across real tenants over HTTP (alpha.test, beta.test and gamma.test federate over
 * plain HTTP): joining a room of another server by ID and by alias, the join reaching the other
 * resident servers, leaving, invites both ways (also from createRoom, with the stripped state in
 * /sync), rejecting a remote invite, knocking, restricted joins authorised by a resident server,
 * and the resident side's errors for signed requests.
 */
describe('federated membership', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let gamma: AccountServer;
  let stop: () => Promise<void>;
  let alice: RoomUser;
  let amy: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  let gus: RoomUser;

  beforeAll(async () => {
    const peers = await startFederationPeers(['alpha.test', 'beta.test', 'gamma.test']);
    [alpha, beta, gamma] = peers.servers as [AccountServer, AccountServer, AccountServer];
    stop = peers.stop;
    [alice, amy] = await createRoomUsers(alpha, ['alice', 'amy']);
    [bob, carol] = await createRoomUsers(beta, ['bob', 'carol']);
    [gus] = await createRoomUsers(gamma, ['gus']);
  });
  afterAll(async () => stop?.());

  /** A federation request from beta.test to alpha.test, signed with beta's key. */
  async function fromBeta(method: 'GET' | 'PUT', path: string, body?: Json) {
    const key = beta.context.services.serverKeys.signingKey;
    const authorization = xMatrixHeader(
      {
        method,
        uri: path,
        origin: 'beta.test',
        destination: 'alpha.test',
        ...(body === undefined ? {} : { content: body }),
      },
      key,
    );
    return alpha.call(method, path, {
      headers: { authorization },
      ...(body === undefined ? {} : { body }),
    });
  }

  async function members(user: RoomUser, roomId: string): Promise<Record<string, string>> {
    const state = await user.ok('GET', `/rooms/${enc(roomId)}/state`);
    return Object.fromEntries(
      (state as Json[])
        .filter((event) => event.type === 'm.room.member')
        .map((event) => [event.state_key, event.content.membership]),
    );
  }

  async function sync(user: RoomUser): Promise<Json> {
    return user.ok('GET', '/sync?timeout=0');
  }

  it('joins a room of another server by ID through `via`, and both servers agree', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Lobby' });
    await alice.send(roomId, 'hello before bob');
    const joined = await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    expect(joined.room_id).toBe(roomId);

    expect(await members(bob, roomId)).toEqual({
      [alice.userId]: 'join',
      [bob.userId]: 'join',
    });
    expect(await members(alice, roomId)).toEqual({
      [alice.userId]: 'join',
      [bob.userId]: 'join',
    });
    const bobSync = await sync(bob);
    const room = bobSync.rooms.join[roomId];
    expect(room).toBeDefined();
    const names = (room.state.events as Json[])
      .concat(room.timeline.events)
      .filter((event) => event.type === 'm.room.name');
    expect(names[0]?.content.name).toBe('Lobby');

    // Joined: bob's server holds the room; a message bob sends reaches alice's server.
    await bob.send(roomId, 'hi from beta');
    await expect
      .poll(async () => {
        const messages = await alice.messages(roomId, 'dir=b&limit=5');
        return (messages.chunk as Json[]).map((event) => event.content?.body);
      })
      .toContain('hi from beta');
  });

  it('a join accepted by one resident server reaches the others; leaving is a plain leave', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    await gus.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    await expect.poll(async () => (await members(bob, roomId))[gus.userId]).toBe('join');
    expect(await members(gus, roomId)).toEqual({
      [alice.userId]: 'join',
      [bob.userId]: 'join',
      [gus.userId]: 'join',
    });
    // A message from gamma reaches both other servers through gamma's fan-out.
    await gus.send(roomId, 'hello from gamma');
    for (const user of [alice, bob]) {
      await expect
        .poll(async () => {
          const messages = await user.messages(roomId, 'dir=b&limit=5');
          return (messages.chunk as Json[]).map((event) => event.content?.body);
        })
        .toContain('hello from gamma');
    }
    await bob.leave(roomId);
    await expect.poll(async () => (await members(alice, roomId))[bob.userId]).toBe('leave');
    await expect.poll(async () => (await members(gus, roomId))[bob.userId]).toBe('leave');
  });

  it('joins by an alias of the other server', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_alias_name: 'plaza' });
    const joined = await carol.ok('POST', `/join/${enc('#plaza:alpha.test')}`, {});
    expect(joined.room_id).toBe(roomId);
    expect((await members(alice, roomId))[carol.userId]).toBe('join');
  });

  it('an unknown room on every via server is 404', async () => {
    const response = await bob.call(
      'POST',
      `/join/${enc('!nothere:alpha.test')}?via=alpha.test`,
      {},
    );
    expect(response).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('invites a user of another server: /sync shows it with stripped state, then they join', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat', name: 'Secret' });
    await alice.invite(roomId, carol.userId);
    expect((await members(alice, roomId))[carol.userId]).toBe('invite');

    const invite = (await sync(carol)).rooms.invite[roomId];
    expect(invite).toBeDefined();
    const types = (invite.invite_state.events as Json[]).map((event) => event.type);
    expect(types).toContain('m.room.create');
    expect(types).toContain('m.room.member');
    const name = (invite.invite_state.events as Json[]).find((e) => e.type === 'm.room.name');
    expect(name?.content.name).toBe('Secret');

    // No `via`: the inviting server is asked.
    await carol.ok('POST', `/rooms/${enc(roomId)}/join`, {});
    expect((await members(alice, roomId))[carol.userId]).toBe('join');
    expect((await sync(carol)).rooms.join[roomId]).toBeDefined();
  });

  it('invites the other way, and a rejected invite leaves through the inviting server', async () => {
    const roomId = await bob.createRoom({ preset: 'private_chat', name: 'From beta' });
    await bob.invite(roomId, amy.userId);
    const invite = (await sync(amy)).rooms.invite[roomId];
    expect(invite).toBeDefined();
    await amy.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
    expect((await members(bob, roomId))[amy.userId]).toBe('leave');
    const after = await sync(amy);
    expect(after.rooms.invite[roomId]).toBeUndefined();
  });

  it('invites users of other servers listed in createRoom', async () => {
    const roomId = await alice.createRoom({
      preset: 'trusted_private_chat',
      invite: [amy.userId, gus.userId],
      is_direct: true,
    });
    expect(await members(alice, roomId)).toMatchObject({
      [amy.userId]: 'invite',
      [gus.userId]: 'invite',
    });
    const invite = (await sync(gus)).rooms.invite[roomId];
    const own = (invite.invite_state.events as Json[]).find(
      (event) => event.type === 'm.room.member' && event.state_key === gus.userId,
    );
    expect(own?.content).toMatchObject({ membership: 'invite', is_direct: true });
    await gus.ok('POST', `/join/${enc(roomId)}`, {});
    expect((await members(alice, roomId))[gus.userId]).toBe('join');
  });

  it('joins a restricted room through a resident server that vouches for the join', async () => {
    const space = await alice.createRoom({ preset: 'public_chat' });
    await bob.ok('POST', `/join/${enc(space)}?via=alpha.test`, {});
    const roomId = await alice.createRoom({
      room_version: '12',
      preset: 'private_chat',
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
    // gus is in no allowed room: refused.
    const refused = await gus.call('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    expect(refused).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    await bob.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
    const state = await alice.ok(
      'GET',
      `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`,
    );
    expect(state).toMatchObject({
      membership: 'join',
      join_authorised_via_users_server: alice.userId,
    });
  });

  it('rejects locally an invite from a server that cannot be reached', async () => {
    // A server alpha knows the key of, but cannot reach (it is not in federation_plain_http).
    const lost = new RemoteHomeserver('lost.test');
    await lost.trustedBy(alpha.context.db);
    const version = requireRoomVersion('11');
    const roomId = '!gone:lost.test';
    const invite = buildEvent(
      {
        type: 'm.room.member',
        stateKey: amy.userId,
        sender: '@host:lost.test',
        content: { membership: 'invite' },
      },
      {
        version,
        roomId,
        prevEvents: [],
        authEvents: [],
        originServerTs: Date.now(),
        serverName: 'lost.test',
        signingKey: lost.signingKey,
      },
    );
    const path = `/_matrix/federation/v2/invite/${enc(roomId)}/${enc(invite.eventId)}`;
    const body = {
      room_version: '11',
      event: invite.pdu,
      invite_room_state: [
        { type: 'm.room.name', state_key: '', sender: '@host:lost.test', content: { name: 'Far' } },
      ],
    };
    const authorization = xMatrixHeader(
      { method: 'PUT', uri: path, origin: 'lost.test', destination: 'alpha.test', content: body },
      lost.signingKey,
    );
    const answer = await alpha.call('PUT', path, { headers: { authorization }, body });
    expect(answer.status).toBe(200);
    const alphaKey = alpha.context.services.serverKeys.signingKey;
    expect(answer.body.event.signatures['alpha.test'][alphaKey.keyId]).toEqual(expect.any(String));
    const invited = (await sync(amy)).rooms.invite[roomId];
    expect(invited.invite_state.events).toContainEqual(
      expect.objectContaining({ type: 'm.room.name', content: { name: 'Far' } }),
    );

    await amy.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
    const after = await amy.ok('GET', '/sync?timeout=0&filter={"room":{"include_leave":true}}');
    expect(after.rooms.invite[roomId]).toBeUndefined();
    expect(after.rooms.leave[roomId]).toBeDefined();
  });

  it('inviting a user the other server does not have fails with its error', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat' });
    const response = await alice.call('POST', `/rooms/${enc(roomId)}/invite`, {
      user_id: '@nobody:beta.test',
    });
    expect(response).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect((await members(alice, roomId))['@nobody:beta.test']).toBeUndefined();
  });

  it('knocks on a room of another server', async () => {
    const roomId = await alice.createRoom({ room_version: '12', preset: 'private_chat' });
    await alice.setState(roomId, 'm.room.join_rules', { join_rule: 'knock' });
    const knocked = await bob.call('POST', `/knock/${enc(roomId)}?via=alpha.test`, {
      reason: 'let me in',
    });
    expect(knocked.body).toEqual({ room_id: roomId });
    expect((await members(alice, roomId))[bob.userId]).toBe('knock');
    const knock = (await sync(bob)).rooms.knock[roomId];
    expect(knock).toBeDefined();
    expect((knock.knock_state.events as Json[]).map((event) => event.type)).toContain(
      'm.room.create',
    );
  });

  describe('resident side errors (signed requests)', () => {
    let roomId: string;

    beforeAll(async () => {
      roomId = await alice.createRoom({ preset: 'public_chat' });
    });

    const makeJoin = (room: string, user: string, query = 'ver=12&ver=11') =>
      `/_matrix/federation/v1/make_join/${enc(room)}/${enc(user)}?${query}`;

    it('answers a template for a user of the origin', async () => {
      const response = await fromBeta('GET', makeJoin(roomId, '@dave:beta.test'));
      expect(response.status).toBe(200);
      expect(response.body.room_version).toBe('12');
      expect(response.body.event).toMatchObject({
        type: 'm.room.member',
        room_id: roomId,
        sender: '@dave:beta.test',
        state_key: '@dave:beta.test',
        content: { membership: 'join' },
      });
      expect(response.body.event.signatures).toBeUndefined();
    });

    it('refuses a user of another server than the origin (403)', async () => {
      const response = await fromBeta('GET', makeJoin(roomId, '@eve:gamma.test'));
      expect(response).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    });

    it('does not know a room it is not in (404)', async () => {
      const response = await fromBeta('GET', makeJoin('!unknown:alpha.test', '@dave:beta.test'));
      expect(response).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    });

    it('refuses when the room version is not supported by the asker (400)', async () => {
      const response = await fromBeta('GET', makeJoin(roomId, '@dave:beta.test', 'ver=1&ver=2'));
      expect(response).toMatchObject({
        status: 400,
        body: { errcode: 'M_INCOMPATIBLE_ROOM_VERSION', room_version: '12' },
      });
    });

    it('refuses a banned user (403)', async () => {
      await alice.ok('POST', `/rooms/${enc(roomId)}/ban`, { user_id: '@mallory:beta.test' });
      const response = await fromBeta('GET', makeJoin(roomId, '@mallory:beta.test'));
      expect(response).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    });

    it('refuses an unsigned request (401)', async () => {
      const response = await alpha.call('GET', makeJoin(roomId, '@dave:beta.test'));
      expect(response).toMatchObject({ status: 401, body: { errcode: 'M_UNAUTHORIZED' } });
    });

    it('send_join accepts a join built from the template and forwards it to the others', async () => {
      await gus.ok('POST', `/join/${enc(roomId)}?via=alpha.test`, {});
      const template = (await fromBeta('GET', makeJoin(roomId, '@dave:beta.test'))).body.event;
      // Built and signed as beta would: only alpha, which accepts it, can tell gamma about it.
      const join = eventFromTemplate(
        template,
        { roomId, userId: '@dave:beta.test', membership: 'join' },
        { displayname: 'Dave' },
        {
          version: requireRoomVersion('12'),
          serverName: 'beta.test',
          signingKey: beta.context.services.serverKeys.signingKey,
          now: Date.now(),
        },
      );
      const path = `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(join.eventId)}`;
      const response = await fromBeta('PUT', path, join.pdu);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        origin: 'alpha.test',
        members_omitted: false,
        servers_in_room: ['alpha.test', 'gamma.test'],
      });
      const stateTypes = (response.body.state as Json[]).map((event) => event.type);
      expect(stateTypes).toContain('m.room.create');
      expect(stateTypes).toContain('m.room.power_levels');
      expect(stateTypes).not.toContain('m.room.message');
      expect(Array.isArray(response.body.auth_chain)).toBe(true);
      expect((await members(alice, roomId))['@dave:beta.test']).toBe('join');
      await expect.poll(async () => (await members(gus, roomId))['@dave:beta.test']).toBe('join');
      // A retry answers the same.
      expect((await fromBeta('PUT', path, join.pdu)).status).toBe(200);
    });

    it('send_join refuses an event that does not match the URL (400)', async () => {
      const template = (await fromBeta('GET', makeJoin(roomId, '@dave:beta.test'))).body.event;
      const response = await fromBeta(
        'PUT',
        `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc('$notthisone')}`,
        template,
      );
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_INVALID_PARAM');
    });
  });
});
