import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { SignedRoom } from '../../../test/helpers/signed-room.js';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import { resolveState } from '../../protocol/state-resolution/resolve-state.js';
import type { DatabaseConfig } from '../../storage/database-config.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { openTenantDatabase } from '../../storage/tenant-database.js';
import { MissingEventsError, RoomGraph } from './room-graph.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:b.test';
const CAROL = '@carol:c.test';
const VERSIONS = ['1', '10', '12'] as const;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openDatabase(): Promise<{ db: TenantDatabase; config: DatabaseConfig }> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  return { db, config: test.config };
}

async function openGraph(): Promise<{
  db: TenantDatabase;
  config: DatabaseConfig;
  graph: RoomGraph;
}> {
  const { db, config } = await openDatabase();
  return { db, config, graph: new RoomGraph(db) };
}

/** A state map as a plain object with sorted keys: readable diffs, order-free comparison. */
function plain(state: StateMap | undefined): Record<string, string> | undefined {
  if (state === undefined) return undefined;
  return Object.fromEntries([...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Create, Alice joins, power levels, public join rules, Bob and Carol join, chat and a topic. */
function smallRoom(version: string): SignedRoom {
  const room = new SignedRoom(version, ALICE);
  room.join(ALICE);
  room.powerLevels(ALICE, { [BOB]: 0 });
  room.state(ALICE, 'm.room.join_rules', { join_rule: 'public' });
  room.join(BOB);
  room.message(BOB, 'hello');
  room.join(CAROL);
  room.state(ALICE, 'm.room.topic', { topic: 'first' });
  room.message(CAROL, 'hi all');
  return room;
}

/** The receive path: checks, then stores with the verdict. */
async function receive(graph: RoomGraph, event: RoomEvent) {
  const check = await graph.checkEvent(event);
  const streamOrdering = await graph.persistEvent(event, check);
  return { check, streamOrdering };
}

async function receiveAll(graph: RoomGraph, room: SignedRoom, events = room.events) {
  await graph.createRoom(room.roomId, room.version.id);
  const orderings: number[] = [];
  for (const event of events) {
    const { check, streamOrdering } = await receive(graph, event);
    expect(check.rejected, `${event.type} ${event.eventId}`).toBeUndefined();
    expect(check.softFailed).toBe(false);
    orderings.push(streamOrdering);
  }
  return orderings;
}

async function countRows(db: TenantDatabase, table: string): Promise<number> {
  const { rows } = await db.read((k) =>
    sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(k),
  );
  return Number(rows[0]?.n);
}

describe.each(VERSIONS)('RoomGraph, room version %s', (version) => {
  it('stores a room of real PDUs and knows the exact state before and after each event', async () => {
    const { graph } = await openGraph();
    const room = smallRoom(version);
    const orderings = await receiveAll(graph, room);

    expect(orderings).toEqual([...orderings].sort((a, b) => a - b));
    expect(new Set(orderings).size).toBe(orderings.length);
    for (const event of room.events) {
      expect(plain(await graph.stateBeforeEvent(event.eventId))).toEqual(
        plain(room.stateBefore(event.eventId)),
      );
      expect(plain(await graph.stateAfterEvent(event.eventId))).toEqual(
        plain(room.stateAfter(event.eventId)),
      );
    }
    expect(await graph.forwardExtremities(room.roomId)).toEqual([room.head]);
    expect(plain(await graph.currentState(room.roomId))).toEqual(plain(room.stateAfter(room.head)));
    expect((await graph.roomVersionOf(room.roomId))?.id).toBe(version);

    // Events read back as they were sent, in this version's ID format.
    const stored = await graph.getEvents(room.events.map((e) => e.eventId));
    expect(stored.size).toBe(room.events.length);
    for (const event of room.events) expect(stored.get(event.eventId)?.pdu).toEqual(event.pdu);
    const idFormat = version === '1' ? /^\$[A-Za-z0-9]+:a\.test$/ : /^\$[A-Za-z0-9_-]{43}$/;
    for (const event of room.events) {
      if (event.sender === ALICE) expect(event.eventId).toMatch(idFormat);
    }
    if (version === '1') {
      const reference = room.events[1]?.pdu.prev_events as unknown as [
        [string, { sha256: string }],
      ];
      expect(reference[0][0]).toBe(room.create.eventId);
      expect(reference[0][1].sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);
    }
  });

  it('resolves the state of a fork when an event merges it', async () => {
    const { db, graph } = await openGraph();
    const room = smallRoom(version);
    await receiveAll(graph, room);
    const fork = room.head;

    // Branch A changes the topic; branch B the name, then the topic, deeper and later.
    const a1 = room.state(ALICE, 'm.room.topic', { topic: 'A' }, { prevEvents: [fork] });
    const b1 = room.state(ALICE, 'm.room.name', { name: 'N' }, { prevEvents: [fork] });
    const b2 = room.state(ALICE, 'm.room.topic', { topic: 'B' }, { prevEvents: [b1.eventId] });
    for (const event of [a1, b1, b2]) {
      const { check } = await receive(graph, event);
      expect(check.rejected).toBeUndefined();
    }
    expect(await graph.forwardExtremities(room.roomId)).toEqual([a1.eventId, b2.eventId].sort());

    const expected = room.stateAfter(fork);
    expected.set(JSON.stringify(['m.room.name', '']), b1.eventId);
    expected.set(JSON.stringify(['m.room.topic', '']), b2.eventId);
    expect(plain(await graph.currentState(room.roomId))).toEqual(plain(expected));

    const stateBefore = await graph.computeStateBefore(room.roomId, [a1.eventId, b2.eventId]);
    expect(plain(stateBefore)).toEqual(plain(expected));
    const merge = room.message(CAROL, 'merged', {
      prevEvents: [a1.eventId, b2.eventId],
      state: expected,
    });
    const { check } = await receive(graph, merge);
    expect(check.rejected).toBeUndefined();
    expect(check.softFailed).toBe(false);
    expect(await graph.forwardExtremities(room.roomId)).toEqual([merge.eventId]);
    expect(plain(await graph.stateBeforeEvent(merge.eventId))).toEqual(plain(expected));
    expect(plain(await graph.stateAfterEvent(merge.eventId))).toEqual(plain(expected));
    // The branches keep their own states.
    expect(plain(await graph.stateAfterEvent(a1.eventId))).toEqual(
      plain(room.stateAfter(a1.eventId)),
    );

    // A fresh instance (cold caches) resolves the same.
    const cold = new RoomGraph(db);
    expect(plain(await cold.currentState(room.roomId))).toEqual(plain(expected));
  });

  it('resolves a contested fork over the stored auth edges as over the events themselves', async () => {
    const { db, graph } = await openGraph();
    const room = smallRoom(version);
    await receiveAll(graph, room);
    const fork = room.head;
    const forkState = room.stateAfter(fork);

    // A: Alice promotes Bob, who sets the topic; Alice kicks Carol. B: Carol renames herself,
    // Bob leaves, Alice sets the topic.
    room.powerLevels(ALICE, { [BOB]: 50 }, { prevEvents: [fork] });
    room.state(BOB, 'm.room.topic', { topic: 'A' });
    room.member(ALICE, CAROL, 'leave');
    const tipA = room.head;
    room.member(CAROL, CAROL, 'join', {
      content: { membership: 'join', displayname: 'C' },
      prevEvents: [fork],
      state: forkState,
    });
    room.member(BOB, BOB, 'leave');
    room.state(ALICE, 'm.room.topic', { topic: 'B' });
    const tipB = room.head;
    for (const event of room.events.slice(-6)) {
      expect((await receive(graph, event)).check.rejected).toBeUndefined();
    }

    const cold = new RoomGraph(db);
    const resolved = await cold.computeStateBefore(room.roomId, [tipA, tipB]);
    const states = [room.stateAfter(tipA), room.stateAfter(tipB)];
    const overEvents = await resolveState(requireRoomVersion(version), states, (ids) =>
      new RoomGraph(db).getEvents(ids),
    );
    expect(plain(resolved)).toEqual(plain(overEvents));
    for (const state of states) expect(plain(resolved)).not.toEqual(plain(state));
  });

  it('stores a rejected event without letting it into the state or the extremities', async () => {
    const { graph } = await openGraph();
    const room = smallRoom(version);
    await receiveAll(graph, room);
    const head = room.head;

    // Bob (level 0) tries to give himself power.
    const grab = room.powerLevels(BOB, { [BOB]: 100 }, { track: false });
    const { check } = await receive(graph, grab);
    expect(check.rejected?.rule).toBeTruthy();
    const status = (await graph.eventStatuses([grab.eventId])).get(grab.eventId);
    expect(status?.rejectedReason).toContain(check.rejected?.rule);
    expect(await graph.forwardExtremities(room.roomId)).toEqual([head]);
    expect(plain(await graph.stateAfterEvent(grab.eventId))).toEqual(plain(room.stateAfter(head)));
    expect(plain(await graph.currentState(room.roomId))).toEqual(plain(room.stateAfter(head)));

    // An event after the rejected one is accepted, on the state without it.
    const after = room.message(ALICE, 'after', {
      prevEvents: [grab.eventId],
      state: room.stateAfter(head),
    });
    const second = await receive(graph, after);
    expect(second.check.rejected).toBeUndefined();
    expect(plain(second.check.stateBefore)).toEqual(plain(room.stateAfter(head)));
    // The rejected event does not follow `head`, so `head` stays an extremity.
    expect(await graph.forwardExtremities(room.roomId)).toEqual([head, after.eventId].sort());
  });

  it('soft-fails an event that evades a ban, and rejects one that cannot', async () => {
    const { graph } = await openGraph();
    const room = smallRoom(version);
    await receiveAll(graph, room);
    const beforeBan = room.head;
    const ban = room.member(ALICE, BOB, 'ban');
    expect((await receive(graph, ban)).check.rejected).toBeUndefined();

    // Bob replies to the room as it was before the ban: valid there, but not now.
    const evading = room.message(BOB, 'still here', { prevEvents: [beforeBan], track: false });
    const { check } = await receive(graph, evading);
    expect(check.rejected).toBeUndefined();
    expect(check.softFailed).toBe(true);
    const status = (await graph.eventStatuses([evading.eventId])).get(evading.eventId);
    expect(status).toMatchObject({ softFailed: true, outlier: false, rejectedReason: undefined });
    expect(await graph.forwardExtremities(room.roomId)).toEqual([ban.eventId]);
    expect(plain(await graph.stateAfterEvent(evading.eventId))).toEqual(
      plain(room.stateAfter(beforeBan)),
    );

    // After the ban, citing his old join: fails against the state before it.
    const late = room.message(BOB, 'late', {
      prevEvents: [ban.eventId],
      state: room.stateAfter(beforeBan),
      track: false,
    });
    const second = await receive(graph, late);
    expect(second.check.rejected?.rule).toBeTruthy();
    expect(await graph.forwardExtremities(room.roomId)).toEqual([ban.eventId]);
  });

  it('stores an outlier without state, then lets it join the graph', async () => {
    const { graph } = await openGraph();
    const room = smallRoom(version);
    const last = room.events.at(-1) as RoomEvent;
    await receiveAll(graph, room, room.events.slice(0, -1));
    const before = await graph.forwardExtremities(room.roomId);

    const first = await graph.persistEvent(last, { outlier: true });
    expect(await graph.persistEvent(last, { outlier: true })).toBe(first);
    expect(await graph.stateAfterEvent(last.eventId)).toBeUndefined();
    expect(await graph.stateBeforeEvent(last.eventId)).toBeUndefined();
    expect(await graph.forwardExtremities(room.roomId)).toEqual(before);
    expect((await graph.getEvent(last.eventId))?.pdu).toEqual(last.pdu);
    expect((await graph.eventStatuses([last.eventId])).get(last.eventId)?.outlier).toBe(true);
    await expect(graph.computeStateBefore(room.roomId, [last.eventId])).rejects.toBeInstanceOf(
      MissingEventsError,
    );

    const { streamOrdering } = await receive(graph, last);
    expect(streamOrdering).toBeGreaterThan(first);
    expect((await graph.eventStatuses([last.eventId])).get(last.eventId)?.outlier).toBe(false);
    expect(await graph.forwardExtremities(room.roomId)).toEqual([last.eventId]);
    expect(plain(await graph.stateAfterEvent(last.eventId))).toEqual(
      plain(room.stateAfter(last.eventId)),
    );
  });

  it('stores an event once however often it is persisted', async () => {
    const { db, graph } = await openGraph();
    const room = smallRoom(version);
    const orderings = await receiveAll(graph, room);
    const tables = ['events', 'event_prev_events', 'event_auth_events', 'state_groups'] as const;
    const counts = await Promise.all(tables.map((table) => countRows(db, table)));

    const last = room.events.at(-1) as RoomEvent;
    const stateBefore = await graph.stateBeforeEvent(last.eventId);
    expect(await graph.persistEvent(last, { stateBefore })).toBe(orderings.at(-1));
    // Racing writers, with caches that know nothing, agree on one row.
    const racers = [new RoomGraph(db), new RoomGraph(db), new RoomGraph(db)];
    const next = room.message(ALICE, 'raced');
    const raced = await Promise.all(
      racers.map(async (racer) => racer.persistEvent(next, await racer.checkEvent(next))),
    );
    expect(new Set(raced).size).toBe(1);
    expect(raced[0]).toBeGreaterThan(orderings.at(-1) as number);
    // One more event, its one prev edge and its auth edges; a message needs no new state group.
    const added = [1, 1, next.authEventIds.length, 0];
    expect(await Promise.all(tables.map((table) => countRows(db, table)))).toEqual(
      counts.map((count, i) => count + (added[i] as number)),
    );
    expect(await graph.forwardExtremities(room.roomId)).toEqual([next.eventId]);
  });

  it('reads the same graph back after the database is closed and reopened', async () => {
    const { config, db, graph } = await openGraph();
    const room = smallRoom(version);
    const orderings = await receiveAll(graph, room);
    const fork = room.head;
    const a = room.state(ALICE, 'm.room.topic', { topic: 'A' }, { prevEvents: [fork] });
    const b = room.state(ALICE, 'm.room.name', { name: 'B' }, { prevEvents: [fork] });
    await receive(graph, a);
    await receive(graph, b);
    const current = plain(await graph.currentState(room.roomId));
    await db.close();

    const reopened = await openTenantDatabase(config, { serverName: 'a.test' });
    cleanups.push(() => reopened.close());
    const again = new RoomGraph(reopened);
    expect((await again.roomVersionOf(room.roomId))?.id).toBe(version);
    expect(await again.forwardExtremities(room.roomId)).toEqual([a.eventId, b.eventId].sort());
    expect(plain(await again.currentState(room.roomId))).toEqual(current);
    const statuses = await again.eventStatuses(room.events.map((e) => e.eventId));
    for (const [i, event] of room.events.entries()) {
      if (i < orderings.length) {
        expect(statuses.get(event.eventId)?.streamOrdering).toBe(orderings[i]);
      }
      expect(plain(await again.stateAfterEvent(event.eventId))).toEqual(
        plain(room.stateAfter(event.eventId)),
      );
      expect(plain(await again.stateBeforeEvent(event.eventId))).toEqual(
        plain(room.stateBefore(event.eventId)),
      );
    }
    // New events continue the stream after the old ones.
    const next = room.message(ALICE, 'back again', {
      prevEvents: [a.eventId, b.eventId],
      state: new Map(Object.entries(current ?? {})),
    });
    expect((await receive(again, next)).streamOrdering).toBeGreaterThan(Math.max(...orderings));
  });

  it('walks auth chains through stored events', async () => {
    const { graph } = await openGraph();
    const room = smallRoom(version);
    await receiveAll(graph, room);
    const bobMessage = room.events.find((e) => e.sender === BOB && e.type === 'm.room.message');
    if (bobMessage === undefined) throw new Error('no message from Bob');

    const chainOf = (ids: Iterable<string>): Set<string> => {
      const chain = new Set<string>();
      const stack = [...ids].flatMap((id) => room.event(id).authEventIds);
      for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
        if (chain.has(id)) continue;
        chain.add(id);
        stack.push(...room.event(id).authEventIds);
      }
      return chain;
    };
    expect(await graph.authChain([bobMessage.eventId])).toEqual(chainOf([bobMessage.eventId]));

    // Two states whose auth chains differ: before Alice's power levels, and after Bob joined.
    const aliceJoin = room.events[1] as RoomEvent;
    const bobJoin = room.events.find((e) => e.stateKey === BOB) as RoomEvent;
    const first = room.stateAfter(aliceJoin.eventId);
    const second = room.stateAfter(bobJoin.eventId);
    const chains = [chainOf(first.values()), chainOf(second.values())];
    const difference = new Set(
      [...chains[0]!, ...chains[1]!].filter((id) => !(chains[0]!.has(id) && chains[1]!.has(id))),
    );
    expect(difference.size).toBeGreaterThan(0);
    expect(await graph.authChainDifference([first, second])).toEqual(difference);
  });
});

describe('RoomGraph, across rooms and versions', () => {
  it('refuses unknown rooms and versions, and a room created again with another version', async () => {
    const { graph } = await openGraph();
    const room = smallRoom('10');
    await expect(graph.persistEvent(room.create, { stateBefore: new Map() })).rejects.toThrow(
      /not known/,
    );
    await expect(graph.createRoom('!x:a.test', '99')).rejects.toThrow(/Unsupported room version/);
    await graph.createRoom(room.roomId, '10');
    await graph.createRoom(room.roomId, '10');
    await expect(graph.createRoom(room.roomId, '11')).rejects.toThrow(/exists with version 10/);
    expect(await graph.roomVersionOf('!unknown:a.test')).toBeUndefined();
  });

  it('hands out one increasing stream across rooms', async () => {
    const { graph } = await openGraph();
    const rooms = VERSIONS.map((version) => smallRoom(version));
    for (const room of rooms) await graph.createRoom(room.roomId, room.version.id);
    const orderings: number[] = [];
    const length = rooms[0]?.events.length ?? 0;
    for (let i = 0; i < length; i++) {
      for (const room of rooms) {
        orderings.push((await receive(graph, room.events[i] as RoomEvent)).streamOrdering);
      }
    }
    expect(orderings).toEqual(orderings.map((_, i) => i + 1));
  });

  it('creates a room with its first events in one transaction, or not at all', async () => {
    const { db, graph } = await openGraph();
    const room = smallRoom('12');
    const version = requireRoomVersion('12');
    const first = room.events.slice(0, 4);
    const boom = new Error('write failed');

    // A failure while storing the third event leaves nothing: no room, no events, no aliases.
    await expect(
      graph.persistNewRoom(room.roomId, version, first, async (_trx, _position, event) => {
        if (event === first[2]) throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await graph.roomVersionOf(room.roomId)).toBeUndefined();
    expect((await graph.getEvents(first.map((e) => e.eventId))).size).toBe(0);
    expect(await countRows(db, 'events')).toBe(0);
    expect(await countRows(db, 'state_groups')).toBe(0);

    const seen: string[] = [];
    const positions = await graph.persistNewRoom(room.roomId, version, first, async (trx, p, e) => {
      seen.push(e.eventId);
      expect(p).toBeGreaterThan(0);
      await trx.selectFrom('events').select('event_id').execute();
    });
    expect(seen).toEqual(first.map((e) => e.eventId));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    const last = first[3] as RoomEvent;
    expect(await graph.forwardExtremities(room.roomId)).toEqual([last.eventId]);
    expect(plain(await graph.currentState(room.roomId))).toEqual(
      plain(room.stateAfter(last.eventId)),
    );
    for (const event of first) {
      expect(plain(await graph.stateAfterEvent(event.eventId))).toEqual(
        plain(room.stateAfter(event.eventId)),
      );
    }
    // The rest of the room follows on the usual path; a cold instance reads the same graph.
    for (const event of room.events.slice(4)) await receive(graph, event);
    const cold = new RoomGraph(db);
    expect(await cold.forwardExtremities(room.roomId)).toEqual([room.head]);
    expect(plain(await cold.currentState(room.roomId))).toEqual(plain(room.stateAfter(room.head)));

    await expect(graph.persistNewRoom(room.roomId, version, first)).rejects.toThrow(/exists/);
    await expect(
      graph.persistNewRoom('!other:a.test', version, room.events.slice(1, 3)),
    ).rejects.toThrow(/without prev_events/);
  });

  it('keeps its cached extremities and state right while writes overlap', async () => {
    const { db, graph } = await openGraph();
    const room = smallRoom('10');
    await receiveAll(graph, room);
    const fork = room.head;
    // Warm the cache, then store three forks at once, each read back while the others write.
    expect(await graph.forwardExtremities(room.roomId)).toEqual([fork]);
    const branches = ['x', 'y', 'z'].map((topic) =>
      room.state(ALICE, 'm.room.topic', { topic }, { prevEvents: [fork] }),
    );
    await Promise.all(
      branches.map(async (event) => {
        const stateBefore = await graph.computeStateBefore(room.roomId, [fork]);
        await graph.persistEvent(event, { stateBefore });
        await graph.forwardExtremities(room.roomId);
        await graph.currentState(room.roomId);
      }),
    );
    const cold = new RoomGraph(db);
    const extremities = branches.map((e) => e.eventId).sort();
    expect(await cold.forwardExtremities(room.roomId)).toEqual(extremities);
    expect(await graph.forwardExtremities(room.roomId)).toEqual(extremities);
    expect(plain(await graph.currentState(room.roomId))).toEqual(
      plain(await cold.currentState(room.roomId)),
    );
  });

  it('stores state in proportion to state changes, not members × events', async () => {
    const { db, graph } = await openGraph();
    const room = new SignedRoom('10', ALICE, { keepHistory: false });
    room.join(ALICE);
    room.powerLevels(ALICE, {});
    room.state(ALICE, 'm.room.join_rules', { join_rule: 'public' });
    const members = Array.from({ length: 200 }, (_, i) => `@user${i}:m.test`);
    for (const member of members) room.join(member);
    for (let i = 0; i < 1000; i++) room.message(members[i % members.length] as string, `m${i}`);

    await graph.createRoom(room.roomId, room.version.id);
    for (const event of room.events) {
      const check = await graph.checkEvent(event);
      await graph.persistEvent(event, check);
    }
    const stateEvents = room.events.filter((e) => e.stateKey !== undefined).length;
    const entries = await countRows(db, 'state_group_entries');
    const groups = await countRows(db, 'state_groups');
    const eventGroups = await countRows(db, 'event_to_state_group');
    // 204 state events; a row per member per event would be over 200,000.
    expect(stateEvents).toBe(204);
    expect(groups).toBeLessThanOrEqual(stateEvents);
    expect(entries).toBeLessThan(3 * stateEvents);
    expect(eventGroups).toBe(room.events.length);
    expect(plain(await graph.currentState(room.roomId))).toEqual(plain(room.stateAfter(room.head)));

    // A cold instance rebuilds the state from deltas and snapshots.
    const cold = new RoomGraph(db);
    const someJoin = room.events[150] as RoomEvent;
    const state = await cold.stateAfterEvent(someJoin.eventId);
    expect(state?.size).toBe(150 + 1);
    expect(plain(await cold.currentState(room.roomId))).toEqual(plain(room.stateAfter(room.head)));
  }, 120_000);
});
