import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../core/canonical-json.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { selectMembership } from '../../storage/rooms/memberships.js';
import { openRoomServices } from '../../../test/helpers/room-services.js';
import type { TestRoomServices } from '../../../test/helpers/room-services.js';
import { RemoteHomeserver } from '../../../test/helpers/remote-homeserver.js';
import type { EventDraft } from '../rooms/event-builder.js';
import type { PersistedEvent } from '../rooms/room-events.js';
import { FederationHttpClient } from './federation-http-client.js';
import { createInboundFederation } from './inbound-federation.js';
import type { InboundFederation } from './inbound-federation.js';
import { RemoteKeyStore } from './remote-key-store.js';

const REMOTE = 'remote.test';
const BOB = `@bob:${REMOTE}`;

interface Setup {
  s: TestRoomServices;
  remote: RemoteHomeserver;
  inbound: InboundFederation;
  alice: string;
  roomId: string;
  version: RoomVersion;
  persisted: PersistedEvent[];
  /** A remote event after `prevs` (default: the room's extremities), auth from `state`. */
  remoteEvent(
    draft: EventDraft,
    prevs?: readonly RoomEvent[],
    state?: StateMap,
  ): Promise<RoomEvent>;
  status(
    eventId: string,
  ): Promise<{ outlier: boolean; softFailed: boolean; rejectedReason?: string } | undefined>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(versionId: string): Promise<Setup> {
  const s = await openRoomServices();
  cleanups.push(() => s.close());
  const remote = new RemoteHomeserver(REMOTE);
  const address = await remote.listen();
  cleanups.push(() => remote.close());
  await remote.trustedBy(s.db);
  const logger = pino({ level: 'silent' });
  const serverName = s.config.server_name;
  const client = new FederationHttpClient({
    serverName,
    signingKey: s.serverKeys.signingKey,
    logger,
    plainHttp: { [REMOTE]: address },
  });
  const remoteKeys = new RemoteKeyStore({
    serverName,
    db: s.db,
    clock: s.clock,
    logger,
    ownKeys: s.serverKeys,
    client,
  });
  const inbound = createInboundFederation({
    serverName,
    db: s.db,
    clock: s.clock,
    logger,
    graph: s.rooms.roomGraph,
    roomEvents: s.rooms.roomEvents,
    client,
    remoteKeys,
  });
  const alice = await s.createUser('alice');
  const roomId = await s.rooms.roomCreation.create(alice, {
    room_version: versionId,
    preset: 'public_chat',
  });
  const graph = s.rooms.roomGraph;
  const version = (await graph.roomVersionOf(roomId)) as RoomVersion;
  const persisted: PersistedEvent[] = [];
  s.rooms.roomEvents.persisted.add((event) => {
    persisted.push(event);
  });
  const target = { graph, roomEvents: s.rooms.roomEvents, version, roomId };
  return {
    s,
    remote,
    inbound,
    alice,
    roomId,
    version,
    persisted,
    remoteEvent: async (draft, prevs, state) => {
      const prevEvents = prevs ?? [
        ...(await graph.getEvents(await graph.forwardExtremities(roomId))).values(),
      ];
      const before =
        state ??
        (await graph.computeStateBefore(
          roomId,
          prevEvents.map((e) => e.eventId),
        ));
      return remote.build(target, draft, prevEvents, before);
    },
    status: async (eventId) => (await graph.eventStatuses([eventId])).get(eventId),
  };
}

const join = (userId: string): EventDraft => ({
  type: 'm.room.member',
  stateKey: userId,
  sender: userId,
  content: { membership: 'join' },
});
const message = (sender: string, body: string): EventDraft => ({
  type: 'm.room.message',
  sender,
  content: { msgtype: 'm.text', body },
});

describe.each(['12', '10', '1'])('inbound PDUs, room version %s', (versionId) => {
  it('accepts a remote join and message: stored, memberships kept, syncs told', async () => {
    const t = await setup(versionId);
    const joined = await t.remoteEvent(join(BOB));
    expect(await t.inbound.pdus.receive(REMOTE, [joined.pdu])).toEqual({ [joined.eventId]: {} });
    const said = await t.remoteEvent(message(BOB, 'hello from afar'));
    expect(await t.inbound.pdus.receive(REMOTE, [said.pdu])).toEqual({ [said.eventId]: {} });

    expect(await t.status(said.eventId)).toMatchObject({ outlier: false, softFailed: false });
    expect((await t.status(said.eventId))?.rejectedReason).toBeUndefined();
    expect(await t.s.rooms.roomGraph.forwardExtremities(t.roomId)).toEqual([said.eventId]);
    const membership = await t.s.db.read((db) => selectMembership(db, t.roomId, BOB));
    expect(membership?.membership).toBe('join');
    expect(t.persisted.map((event) => event.eventId)).toEqual([joined.eventId, said.eventId]);
    // The local user reads it through the client API.
    const read = await t.s.rooms.roomTimeline.event({ userId: t.alice }, t.roomId, said.eventId);
    expect(read).toMatchObject({ event_id: said.eventId, content: { body: 'hello from afar' } });
  });

  it('drops an event with a bad signature and an unknown room, no-ops a duplicate', async () => {
    const t = await setup(versionId);
    const joined = await t.remoteEvent(join(BOB));
    const forged = structuredClone(joined.pdu);
    const signatures = forged.signatures as Record<string, Record<string, string>>;
    const keyId = t.remote.signingKey.keyId;
    const signature = signatures[REMOTE]?.[keyId] as string;
    (signatures[REMOTE] as Record<string, string>)[keyId] =
      (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1);
    const result = await t.inbound.pdus.receive(REMOTE, [forged]);
    expect(Object.values(result)[0]?.error).toMatch(/signature/);
    expect(await t.status(joined.eventId)).toBeUndefined();

    const elsewhere = { ...joined.pdu, room_id: `!unknown:${REMOTE}` } as JsonObject;
    const unknown = await t.inbound.pdus.receive(REMOTE, [elsewhere]);
    expect(Object.values(unknown)[0]?.error).toMatch(/Unknown room/);

    await t.inbound.pdus.receive(REMOTE, [joined.pdu]);
    const before = await t.status(joined.eventId);
    expect(await t.inbound.pdus.receive(REMOTE, [joined.pdu])).toEqual({ [joined.eventId]: {} });
    expect(await t.status(joined.eventId)).toEqual(before);
    expect(t.persisted.filter((event) => event.eventId === joined.eventId)).toHaveLength(1);
    // Counted for metrics: the forged and the unknown-room one refused, the duplicate not counted.
    expect(t.inbound.pdus.stats()).toEqual({
      accepted: 1,
      soft_failed: 0,
      rejected: 0,
      refused: 2,
    });
  });

  it('stores the redacted copy of an event whose content hash does not match', async () => {
    const t = await setup(versionId);
    await t.inbound.pdus.receive(REMOTE, [(await t.remoteEvent(join(BOB))).pdu]);
    const said = await t.remoteEvent(message(BOB, 'original'));
    // Signatures cover the redacted form: changing the content breaks only the hash.
    const tampered = { ...said.pdu, content: { msgtype: 'm.text', body: 'tampered' } };
    expect(await t.inbound.pdus.receive(REMOTE, [tampered])).toEqual({ [said.eventId]: {} });
    const stored = await t.s.rooms.roomGraph.getEvent(said.eventId);
    expect(stored?.content).toEqual({});
  });

  it('rejects an event its auth rules refuse, soft-fails one the current state refuses', async () => {
    const t = await setup(versionId);
    // Carol never joined: her message fails auth and is stored as rejected.
    const carol = `@carol:${REMOTE}`;
    const intruding = await t.remoteEvent(message(carol, 'let me in'));
    const rejected = await t.inbound.pdus.receive(REMOTE, [intruding.pdu]);
    expect(rejected[intruding.eventId]?.error).toMatch(/rejected/);
    expect((await t.status(intruding.eventId))?.rejectedReason).toBeDefined();

    const joined = await t.remoteEvent(join(BOB));
    await t.inbound.pdus.receive(REMOTE, [joined.pdu]);
    // Alice bans Bob here; Bob's server, not knowing, sends a message after his join.
    await t.s.rooms.roomMembership.ban(t.alice, t.roomId, BOB, 'spam');
    const graph = t.s.rooms.roomGraph;
    const evading = await t.remoteEvent(
      message(BOB, 'still here'),
      [joined],
      (await graph.stateAfterEvent(joined.eventId)) as StateMap,
    );
    expect(await t.inbound.pdus.receive(REMOTE, [evading.pdu])).toEqual({ [evading.eventId]: {} });
    expect(await t.status(evading.eventId)).toMatchObject({ softFailed: true, outlier: false });
    expect(await graph.forwardExtremities(t.roomId)).not.toContain(evading.eventId);
    expect(t.persisted.map((event) => event.eventId)).not.toContain(evading.eventId);
    expect(t.inbound.pdus.stats()).toEqual({
      accepted: 1,
      soft_failed: 1,
      rejected: 1,
      refused: 0,
    });
  });

  it("drops PDUs of a server the room's ACL denies", async () => {
    const t = await setup(versionId);
    await t.inbound.pdus.receive(REMOTE, [(await t.remoteEvent(join(BOB))).pdu]);
    await t.s.rooms.roomEvents.send(t.roomId, {
      type: 'm.room.server_acl',
      stateKey: '',
      sender: t.alice,
      content: { allow: ['*'], deny: ['remote.*'] },
    });
    const said = await t.remoteEvent(message(BOB, 'denied'));
    const result = await t.inbound.pdus.receive(REMOTE, [said.pdu]);
    expect(result[said.eventId]?.error).toMatch(/server ACL/);
    expect(await t.status(said.eventId)).toBeUndefined();
  });

  it('fills a gap with /get_missing_events', async () => {
    const t = await setup(versionId);
    const joined = await t.remoteEvent(join(BOB));
    await t.inbound.pdus.receive(REMOTE, [joined.pdu]);
    const state = (await t.s.rooms.roomGraph.stateAfterEvent(joined.eventId)) as StateMap;
    const m1 = await t.remoteEvent(message(BOB, 'one'), [joined], state);
    const m2 = await t.remoteEvent(message(BOB, 'two'), [m1], state);
    const m3 = await t.remoteEvent(message(BOB, 'three'), [m2], state);
    expect(await t.inbound.pdus.receive(REMOTE, [m3.pdu])).toEqual({ [m3.eventId]: {} });
    expect(t.remote.requests).toContain(
      `POST /_matrix/federation/v1/get_missing_events/${encodeURIComponent(t.roomId)}`,
    );
    for (const event of [m1, m2, m3]) {
      expect(await t.status(event.eventId)).toMatchObject({ outlier: false, softFailed: false });
    }
    expect(t.persisted.map((event) => event.eventId)).toEqual([
      joined.eventId,
      m1.eventId,
      m2.eventId,
      m3.eventId,
    ]);
  });

  it('fills a gap with /state_ids and /event when /get_missing_events does not help', async () => {
    const t = await setup(versionId);
    t.remote.answerMissingEvents = false;
    const joined = await t.remoteEvent(join(BOB));
    await t.inbound.pdus.receive(REMOTE, [joined.pdu]);
    const graph = t.s.rooms.roomGraph;
    const afterJoin = (await graph.stateAfterEvent(joined.eventId)) as StateMap;
    t.remote.remember(
      (
        await graph.getEvents([
          ...afterJoin.values(),
          ...(await graph.authChain(afterJoin.values())),
        ])
      ).values(),
    );
    // Bob changed his display name (a state event this server never got), then said something.
    const topic = await t.remoteEvent(
      { ...join(BOB), content: { membership: 'join', displayname: 'Bobby' } },
      [joined],
      afterJoin,
    );
    const afterTopic = new Map(afterJoin).set(stateKeyOf('m.room.member', BOB), topic.eventId);
    const said = await t.remoteEvent(message(BOB, 'see the topic'), [topic], afterTopic);
    t.remote.statesBefore.set(topic.eventId, afterJoin);

    expect(await t.inbound.pdus.receive(REMOTE, [said.pdu])).toEqual({ [said.eventId]: {} });
    expect(t.remote.requests).toContain(
      `GET /_matrix/federation/v1/state_ids/${encodeURIComponent(t.roomId)}`,
    );
    expect(t.remote.requests).toContain(
      `GET /_matrix/federation/v1/event/${encodeURIComponent(topic.eventId)}`,
    );
    // The rename is known without its place in the graph, and is part of the state after `said`.
    expect(await t.status(topic.eventId)).toMatchObject({ outlier: true });
    expect(await t.status(said.eventId)).toMatchObject({ outlier: false, softFailed: false });
    const current = await graph.currentState(t.roomId);
    expect(current.get(stateKeyOf('m.room.member', BOB))).toBe(topic.eventId);
  });
});
