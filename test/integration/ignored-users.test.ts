import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, type Json } from '../helpers/account-server.js';
import { createRoomUsers, enc, summarize, type RoomUser } from '../helpers/room-users.js';

/** Ignoring users (client-server API "Ignoring Users") over HTTP. */
describe('ignored users', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;
  let carol: RoomUser;
  let roomId: string;

  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob, carol] = await createRoomUsers(server, ['alice', 'bob', 'carol']);
    roomId = await alice.createRoom({
      preset: 'public_chat',
      power_level_content_override: { events: { 'm.room.topic': 0 } },
    });
    await bob.join(roomId);
    await carol.join(roomId);
  });
  afterAll(async () => server?.stop());

  async function ignore(user: RoomUser, ignored: string[]): Promise<void> {
    await user.ok('PUT', `/user/${enc(user.userId)}/account_data/m.ignored_user_list`, {
      ignored_users: Object.fromEntries(ignored.map((id) => [id, {}])),
    });
  }

  function timelineOf(sync: Json, room = roomId): string[] {
    return summarize(sync.rooms?.join?.[room]?.timeline?.events ?? []);
  }

  it("hides an ignored user's messages from sync, /messages and /event, but not their state events", async () => {
    const before = await bob.send(roomId, 'bob before');
    let since = (await alice.ok('GET', '/sync')).next_batch as string;

    await ignore(alice, [bob.userId]);
    const hidden = await bob.send(roomId, 'bob while ignored');
    await bob.setState(roomId, 'm.room.topic', { topic: 'set by bob' });
    await carol.send(roomId, 'carol while bob is ignored');

    const sync = await alice.ok('GET', `/sync?since=${since}`);
    since = sync.next_batch;
    expect(timelineOf(sync)).toEqual(['m.room.topic', 'carol while bob is ignored']);
    expect(sync.account_data.events).toContainEqual({
      type: 'm.ignored_user_list',
      content: { ignored_users: { [bob.userId]: {} } },
    });

    const messages = await alice.messages(roomId, 'dir=b&limit=50');
    const bodies = summarize(messages.chunk);
    expect(bodies).toContain('m.room.topic');
    expect(bodies).toContain('carol while bob is ignored');
    expect(bodies).not.toContain('bob while ignored');
    expect(bodies).not.toContain('bob before');

    for (const eventId of [hidden, before]) {
      const response = await alice.call('GET', `/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      expect(response.status).toBe(404);
      expect(response.body.errcode).toBe('M_NOT_FOUND');
    }
    // Others still see Bob.
    const carolView = summarize((await carol.messages(roomId, 'dir=b&limit=50')).chunk);
    expect(carolView).toContain('bob while ignored');

    // Un-ignoring shows his new messages again (not the ones sent meanwhile).
    await ignore(alice, []);
    await bob.send(roomId, 'bob after');
    const after = await alice.ok('GET', `/sync?since=${since}`);
    expect(timelineOf(after)).toEqual(['bob after']);
  });

  it('does not show invites from an ignored user, and a user cannot ignore themselves', async () => {
    await ignore(carol, [bob.userId, carol.userId]);
    const since = (await carol.ok('GET', '/sync')).next_batch as string;
    const bobsRoom = await bob.createRoom({ preset: 'private_chat' });
    await bob.invite(bobsRoom, carol.userId);
    const aliceRoom = await alice.createRoom({ preset: 'private_chat' });
    await alice.invite(aliceRoom, carol.userId);

    const sync = await carol.ok('GET', `/sync?since=${since}`);
    expect(Object.keys(sync.rooms?.invite ?? {})).toEqual([aliceRoom]);

    await carol.send(roomId, 'carol talks');
    const own = summarize((await carol.messages(roomId, 'dir=b&limit=5')).chunk);
    expect(own).toContain('carol talks');
  });

  it('ignores nobody when the list is malformed', async () => {
    const dave = (await createRoomUsers(server, ['dave']))[0];
    await dave.join(roomId);
    await dave.ok('PUT', `/user/${enc(dave.userId)}/account_data/m.ignored_user_list`, {
      ignored_users: [bob.userId],
    });
    await bob.send(roomId, 'bob to dave');
    const bodies = summarize((await dave.messages(roomId, 'dir=b&limit=5')).chunk);
    expect(bodies).toContain('bob to dave');
  });
});
