import { expect } from 'vitest';
import {
  ClientEvent,
  EventType,
  MsgType,
  SyncState,
  createClient,
  type MatrixClient,
  type Room,
} from 'matrix-js-sdk';

/**
 * The matrix-js-sdk scenario of the client-server core: two real clients syncing against one
 * homeserver, each timeline checked exactly. test/integration/matrix-js-sdk-sync.test.ts runs
 * it against one server; test/integration/multi-tenant.test.ts on three tenants at once.
 */

export interface ClientCredentials {
  userId: string;
  deviceId: string;
  accessToken: string;
}

/** A started client whose first sync is done. */
export async function startSyncedClient(
  baseUrl: string,
  fetchFn: typeof fetch,
  user: ClientCredentials,
): Promise<MatrixClient> {
  const client = createClient({
    baseUrl,
    fetchFn,
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
}

export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The bodies of the room's messages in the client's live timeline. */
export function messages(room: Room | null): string[] {
  return (room?.getLiveTimeline().getEvents() ?? [])
    .filter((event) => event.getType() === EventType.RoomMessage)
    .map((event) => String(event.getContent().body));
}

/** A room and the bodies of the messages sent to it, in order. */
export interface ScenarioRoom {
  roomId: string;
  sent: string[];
}

/**
 * Alice invites Bob, they exchange 50 messages (each timeline holding exactly the events in
 * order), then typing, a read receipt, a redaction (of "bob 1") and Bob's new display name
 * "Bobby" reach the other side.
 */
export async function exchangeMessages(
  alice: MatrixClient,
  bob: MatrixClient,
): Promise<ScenarioRoom> {
  const ALICE = alice.getUserId() as string;
  const BOB = bob.getUserId() as string;
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
  return { roomId, sent: expected };
}

/**
 * Alice fills a public room with 30 messages; Bob joins and scrolls back to its start, seeing
 * exactly those; Bob leaves, Alice writes "while away", Bob rejoins and sees "welcome back".
 */
export async function scrollbackAndRejoin(
  alice: MatrixClient,
  bob: MatrixClient,
): Promise<ScenarioRoom> {
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
  for (let i = 0; i < 10 && room.getLiveTimeline().getPaginationToken('b' as never) !== null; i++) {
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
  return { roomId, sent: [...expected, 'while away', 'welcome back'] };
}

export interface SyncScenarioResult {
  conversation: ScenarioRoom;
  history: ScenarioRoom;
}

/** The whole scenario on one homeserver: both clients started, both parts, clients stopped. */
export async function runSyncScenario(options: {
  baseUrl: string;
  fetchFn: typeof fetch;
  alice: ClientCredentials;
  bob: ClientCredentials;
}): Promise<SyncScenarioResult> {
  const alice = await startSyncedClient(options.baseUrl, options.fetchFn, options.alice);
  let bob: MatrixClient | undefined;
  try {
    bob = await startSyncedClient(options.baseUrl, options.fetchFn, options.bob);
    const conversation = await exchangeMessages(alice, bob);
    const history = await scrollbackAndRejoin(alice, bob);
    return { conversation, history };
  } finally {
    alice.stopClient();
    bob?.stopClient();
  }
}
