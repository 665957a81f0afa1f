import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Direction, MsgType, createClient, type MatrixClient } from 'matrix-js-sdk';
import { AccountServer } from '../helpers/account-server.js';

// A real client against the real server, without sync: matrix-js-sdk builds the requests and
// parses the responses of the rooms API.
describe('matrix-js-sdk 37.5: rooms', () => {
  let server: AccountServer;
  let alice: MatrixClient;
  let bob: MatrixClient;
  beforeAll(async () => {
    server = await AccountServer.start();
    const clientOf = async (name: string) => {
      const user = await server.createUser(name, `${name}-password`);
      return createClient({
        baseUrl: server.url,
        fetchFn: fetch,
        userId: user.userId,
        deviceId: user.deviceId,
        accessToken: user.accessToken,
      });
    };
    alice = await clientOf('alice');
    bob = await clientOf('bob');
  });
  afterAll(async () => {
    alice?.stopClient();
    bob?.stopClient();
    await server?.stop();
  });

  it('creates a room, invites, joins, sends messages and state, and reads them back', async () => {
    const { room_id: roomId } = await alice.createRoom({
      name: 'SDK room',
      topic: 'Made by matrix-js-sdk',
      room_alias_name: 'sdk',
    });
    expect(roomId).toMatch(/^!/);

    await alice.invite(roomId, '@bob:alpha.test');
    const joined = await bob.joinRoom('#sdk:alpha.test');
    expect(joined.roomId).toBe(roomId);
    expect((await bob.getJoinedRooms()).joined_rooms).toEqual([roomId]);

    const sent = await bob.sendMessage(roomId, {
      msgtype: MsgType.Text,
      body: 'Hello from the SDK',
    });
    expect(sent.event_id).toMatch(/^\$/);
    const state = await alice.sendStateEvent(
      roomId,
      'org.example.sdk' as never,
      { ok: true } as never,
      'k',
    );
    expect(state.event_id).toMatch(/^\$/);

    const messages = await alice.createMessagesRequest(roomId, null, 10, Direction.Backward);
    expect(messages.chunk.map((event) => event.type).slice(0, 3)).toEqual([
      'org.example.sdk',
      'm.room.message',
      'm.room.member',
    ]);
    expect(messages.chunk[1]).toMatchObject({
      event_id: sent.event_id,
      sender: '@bob:alpha.test',
      content: { body: 'Hello from the SDK' },
    });
    const older = await alice.createMessagesRequest(
      roomId,
      messages.end ?? null,
      10,
      Direction.Backward,
    );
    expect(older.chunk.at(-1)?.type).toBe('m.room.create');

    const roomState = await bob.roomState(roomId);
    const byKey = Object.fromEntries(
      roomState.map((event) => [`${event.type}|${event.state_key}`, event.content]),
    );
    expect(byKey['m.room.name|']).toEqual({ name: 'SDK room' });
    expect(byKey['m.room.topic|']).toMatchObject({ topic: 'Made by matrix-js-sdk' });
    expect(byKey['m.room.canonical_alias|']).toEqual({ alias: '#sdk:alpha.test' });
    expect(byKey['org.example.sdk|k']).toEqual({ ok: true });
    expect(byKey['m.room.member|@bob:alpha.test']).toMatchObject({ membership: 'join' });

    const resolved = await bob.getRoomIdForAlias('#sdk:alpha.test');
    expect(resolved.room_id).toBe(roomId);
    const members = await bob.getJoinedRoomMembers(roomId);
    expect(Object.keys(members.joined).sort()).toEqual(['@alice:alpha.test', '@bob:alpha.test']);

    await bob.redactEvent(roomId, sent.event_id);
    const redacted = await alice.fetchRoomEvent(roomId, sent.event_id);
    expect(redacted.content).toEqual({});
    expect(redacted.unsigned?.redacted_because).toMatchObject({ sender: '@bob:alpha.test' });

    await bob.leave(roomId);
    expect((await bob.getJoinedRooms()).joined_rooms).toEqual([]);
  });
});
