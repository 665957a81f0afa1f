import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientEvent,
  EventType,
  MsgType,
  SyncState,
  createClient,
  type MatrixClient,
  type Room,
} from 'matrix-js-sdk';
import { AccountServer } from '../helpers/account-server.js';

const ALICE = '@alice:alpha.test';
const BOB = '@bob:alpha.test';

/** The client's fetch: every request goes to the test server, push rules included. */
function fetchFor(server: AccountServer): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = new URL(url.pathname + url.search, server.url);
    return fetch(target, init);
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function messages(room: Room | null): string[] {
  return (room?.getLiveTimeline().getEvents() ?? [])
    .filter((event) => event.getType() === EventType.RoomMessage)
    .map((event) => String(event.getContent().body));
}

// Two real clients syncing against the real server.
describe('matrix-js-sdk 37.5: sync', () => {
  let server: AccountServer;
  let alice: MatrixClient;
  let bob: MatrixClient;
  beforeAll(async () => {
    server = await AccountServer.start();
    const start = async (name: string) => {
      const user = await server.createUser(name, `${name}-password`);
      const client = createClient({
        baseUrl: 'http://alpha.test',
        fetchFn: fetchFor(server),
        userId: user.userId,
        deviceId: user.deviceId,
        accessToken: user.accessToken,
      });
      const prepared = new Promise<void>((resolve) => {
        client.on(ClientEvent.Sync, (state: SyncState) => {
          if (state === SyncState.Prepared) resolve();
        });
      });
      await client.startClient({ initialSyncLimit: 20 });
      await prepared;
      return client;
    };
    alice = await start('alice');
    bob = await start('bob');
  });
  afterAll(async () => {
    alice?.stopClient();
    bob?.stopClient();
    await server?.stop();
  });

  it('two clients exchange messages, each timeline holding exactly the events in order', async () => {
    const { room_id: roomId } = await alice.createRoom({ name: 'Synced' });
    await alice.invite(roomId, BOB);
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite');
    expect(bob.getRoom(roomId)?.name).toBe('Synced');
    await bob.joinRoom(roomId);
    await until(() => alice.getRoom(roomId)?.getMember(BOB)?.membership === 'join', 'the join');

    const expected: string[] = [];
    for (let i = 0; i < 50; i++) {
      const [client, who] = i % 2 === 0 ? [alice, 'alice'] : [bob, 'bob'];
      if (i % 10 === 0) await client.sendTyping(roomId, true, 10_000);
      await client.sendMessage(roomId, { msgtype: MsgType.Text, body: `${who} ${i}` });
      expected.push(`${who} ${i}`);
      // A conversation: each answers what they have seen (the SDK places an own message
      // when its send returns, so a reply racing the other's sync would sit before it).
      const other = client === alice ? bob : alice;
      await until(() => messages(other.getRoom(roomId)).length === i + 1, `message ${i}`);
    }
    await until(() => messages(alice.getRoom(roomId)).length === 50, 'alice timeline');
    await until(() => messages(bob.getRoom(roomId)).length === 50, 'bob timeline');
    expect(messages(alice.getRoom(roomId))).toEqual(expected);
    expect(messages(bob.getRoom(roomId))).toEqual(expected);

    // Typing reaches the other client.
    await bob.sendTyping(roomId, true, 10_000);
    await until(
      () => alice.getRoom(roomId)?.getMember(BOB)?.typing === true,
      'bob typing on alice side',
    );
    await bob.sendTyping(roomId, false, 0);

    // A read receipt.
    const last = alice.getRoom(roomId)?.getLiveTimeline().getEvents().at(-1);
    expect(last).toBeDefined();
    await alice.sendReadReceipt(last ?? null);
    await until(
      () => bob.getRoom(roomId)?.getEventReadUpTo(ALICE) === last?.getId(),
      'alice receipt on bob side',
    );

    // A redaction.
    const victim = bob
      .getRoom(roomId)
      ?.getLiveTimeline()
      .getEvents()
      .find((event) => event.getContent().body === 'bob 1');
    await bob.redactEvent(roomId, victim?.getId() as string);
    await until(
      () =>
        alice
          .getRoom(roomId)
          ?.findEventById(victim?.getId() as string)
          ?.isRedacted() === true,
      'the redaction on alice side',
    );

    // A display name change.
    await bob.setDisplayName('Bobby');
    await until(
      () => alice.getRoom(roomId)?.getMember(BOB)?.name === 'Bobby',
      'the display name on alice side',
    );
  });

  it('back-paginates with scrollback, and a left then rejoined room syncs again', async () => {
    const { room_id: roomId } = await alice.createRoom({
      name: 'History',
      preset: 'public_chat' as never,
    });
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: `m${i}` });
      expected.push(`m${i}`);
    }
    await bob.joinRoom(roomId);
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'join', 'bob joined');
    const room = bob.getRoom(roomId) as Room;
    // Scroll back until the room's start.
    for (
      let i = 0;
      i < 10 && room.getLiveTimeline().getPaginationToken('b' as never) !== null;
      i++
    ) {
      await bob.scrollback(room, 20);
    }
    expect(messages(room)).toEqual(expected);

    await bob.leave(roomId);
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'leave', 'bob left');
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'while away' });
    await bob.joinRoom(roomId);
    await until(() => bob.getRoom(roomId)?.getMyMembership() === 'join', 'bob rejoined');
    await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: 'welcome back' });
    await until(() => messages(bob.getRoom(roomId)).at(-1) === 'welcome back', 'after rejoin');
  });
});
