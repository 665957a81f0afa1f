import { afterEach, describe, expect, it } from 'vitest';
import { SignedRoom } from '../../../test/helpers/signed-room.js';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { RoomGraph } from '../room-graph/room-graph.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { openTenantDatabase } from '../../storage/tenant-database.js';
import {
  deleteAlias,
  insertAlias,
  selectAlias,
  selectAliasesOfRoom,
} from '../../storage/rooms/aliases.js';
import {
  selectDirectoryVisibility,
  selectPublicRoomIds,
  upsertDirectoryVisibility,
} from '../../storage/rooms/directory.js';
import {
  deleteForgottenRoom,
  insertForgottenRoom,
  isRoomForgotten,
} from '../../storage/rooms/forgotten-rooms.js';
import {
  countJoinedMembers,
  selectMembership,
  selectMembersOfRoom,
  selectRoomsOfUser,
  upsertMembership,
} from '../../storage/rooms/memberships.js';
import { insertRedaction, selectRedactionsOf } from '../../storage/rooms/redactions.js';
import {
  selectEventsByTimestamp,
  selectLastEventAtOrBefore,
  selectMaxStreamOrdering,
  selectReplacedStates,
  selectTimeline,
} from '../../storage/rooms/timeline.js';
import {
  deleteTxnIdsOfDevices,
  insertTxnId,
  selectTxnEventId,
  selectTxnIdsOfEvents,
} from '../../storage/rooms/txn-ids.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:a.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openDatabase(): Promise<TenantDatabase> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  return db;
}

/** A v10 room stored through the room graph: create, join, power levels, public, Bob joins, chat. */
async function storedRoom(db: TenantDatabase) {
  const graph = new RoomGraph(db);
  const room = new SignedRoom('10', ALICE);
  room.join(ALICE);
  room.powerLevels(ALICE, {});
  room.state(ALICE, 'm.room.join_rules', { join_rule: 'public' });
  room.join(BOB);
  room.message(BOB, 'one');
  room.state(ALICE, 'm.room.topic', { topic: 'first' });
  room.message(ALICE, 'two');
  room.state(ALICE, 'm.room.topic', { topic: 'second' });
  await graph.createRoom(room.roomId, '10');
  const positions = new Map<string, number>();
  for (const event of room.events) {
    const check = await graph.checkEvent(event);
    positions.set(event.eventId, await graph.persistEvent(event, check));
  }
  return { graph, room, positions, ids: room.events.map((e) => e.eventId) };
}

describe('rooms storage', () => {
  it('keeps current memberships and the last join', async () => {
    const db = await openDatabase();
    const { room } = await storedRoom(db);
    const roomId = room.roomId;
    const [joinA, joinB, laterEvent] = [room.events[1], room.events[4], room.events[5]] as [
      RoomEvent,
      RoomEvent,
      RoomEvent,
    ];
    const change = (userId: string, membership: string, event: RoomEvent, streamOrdering: number) =>
      db.transact((trx) =>
        upsertMembership(trx, {
          roomId,
          userId,
          membership,
          eventId: event.eventId,
          streamOrdering,
          sender: userId,
          displayname: membership === 'join' ? userId.slice(1, 4) : null,
          avatarUrl: null,
        }),
      );
    await change(ALICE, 'join', joinA, 2);
    await change(BOB, 'join', joinB, 5);
    expect(await db.read((k) => selectMembership(k, roomId, BOB))).toMatchObject({
      membership: 'join',
      event_id: joinB.eventId,
      stream_ordering: 5,
      last_join_stream_ordering: 5,
      displayname: 'bob',
    });
    expect(await db.read((k) => countJoinedMembers(k, [roomId, '!other:a.test']))).toEqual(
      new Map([[roomId, 2]]),
    );
    await change(BOB, 'leave', laterEvent, 6);
    expect(await db.read((k) => selectMembership(k, roomId, BOB))).toMatchObject({
      membership: 'leave',
      stream_ordering: 6,
      last_join_stream_ordering: 5,
      displayname: null,
    });
    expect((await db.read((k) => selectRoomsOfUser(k, BOB, ['join']))).length).toBe(0);
    expect(
      (await db.read((k) => selectRoomsOfUser(k, BOB, ['leave', 'ban']))).map((r) => r.room_id),
    ).toEqual([roomId]);
    expect((await db.read((k) => selectMembersOfRoom(k, roomId))).map((r) => r.user_id)).toEqual([
      ALICE,
      BOB,
    ]);
    expect(
      (await db.read((k) => selectMembersOfRoom(k, roomId, ['join']))).map((r) => r.user_id),
    ).toEqual([ALICE]);
    expect(await db.read((k) => selectMembersOfRoom(k, roomId, []))).toEqual([]);
  });

  it('records one event per transaction ID, scoped by device and endpoint', async () => {
    const db = await openDatabase();
    const { room, ids } = await storedRoom(db);
    const key = {
      userId: BOB,
      deviceId: 'D1',
      scope: `/rooms/${room.roomId}/send/m.room.message`,
      txnId: 't',
    };
    expect(await db.transact((trx) => insertTxnId(trx, key, room.roomId, ids[5] as string))).toBe(
      ids[5],
    );
    // A second event for the same key: the first one stays.
    expect(await db.transact((trx) => insertTxnId(trx, key, room.roomId, ids[7] as string))).toBe(
      ids[5],
    );
    expect(await db.read((k) => selectTxnEventId(k, key))).toBe(ids[5]);
    expect(await db.read((k) => selectTxnEventId(k, { ...key, deviceId: 'D2' }))).toBeUndefined();
    expect(await db.read((k) => selectTxnEventId(k, { ...key, scope: '/other' }))).toBeUndefined();
    expect(await db.read((k) => selectTxnIdsOfEvents(k, BOB, 'D1', ids))).toEqual(
      new Map([[ids[5], 't']]),
    );
    expect(await db.read((k) => selectTxnIdsOfEvents(k, BOB, 'D2', ids))).toEqual(new Map());
    await db.transact((trx) => deleteTxnIdsOfDevices(trx, BOB, ['D1']));
    expect(await db.read((k) => selectTxnEventId(k, key))).toBeUndefined();
  });

  it('maps aliases, publishes rooms and remembers forgotten rooms', async () => {
    const db = await openDatabase();
    const { room } = await storedRoom(db);
    const roomId = room.roomId;
    expect(await db.transact((trx) => insertAlias(trx, '#b:a.test', roomId, ALICE))).toBe(true);
    expect(await db.transact((trx) => insertAlias(trx, '#a:a.test', roomId, BOB))).toBe(true);
    expect(await db.transact((trx) => insertAlias(trx, '#a:a.test', roomId, ALICE))).toBe(false);
    expect(await db.read((k) => selectAlias(k, '#a:a.test'))).toEqual({
      room_alias: '#a:a.test',
      room_id: roomId,
      creator: BOB,
    });
    expect(await db.read((k) => selectAliasesOfRoom(k, roomId))).toEqual([
      '#a:a.test',
      '#b:a.test',
    ]);
    expect(await db.transact((trx) => deleteAlias(trx, '#a:a.test'))).toBe(true);
    expect(await db.transact((trx) => deleteAlias(trx, '#a:a.test'))).toBe(false);

    expect(await db.read((k) => selectDirectoryVisibility(k, roomId))).toBe('private');
    await db.transact((trx) => upsertDirectoryVisibility(trx, roomId, 'public'));
    expect(await db.read((k) => selectDirectoryVisibility(k, roomId))).toBe('public');
    expect(await db.read((k) => selectPublicRoomIds(k))).toEqual([roomId]);
    await db.transact((trx) => upsertDirectoryVisibility(trx, roomId, 'private'));
    expect(await db.read((k) => selectPublicRoomIds(k))).toEqual([]);

    expect(await db.read((k) => isRoomForgotten(k, BOB, roomId))).toBe(false);
    await db.transact((trx) => insertForgottenRoom(trx, BOB, roomId));
    await db.transact((trx) => insertForgottenRoom(trx, BOB, roomId));
    expect(await db.read((k) => isRoomForgotten(k, BOB, roomId))).toBe(true);
    await db.transact((trx) => deleteForgottenRoom(trx, BOB, roomId));
    expect(await db.read((k) => isRoomForgotten(k, BOB, roomId))).toBe(false);
  });

  it('finds the earliest redaction of each event in its own room', async () => {
    const db = await openDatabase();
    const { room, ids } = await storedRoom(db);
    const [message, topic, second, third] = [ids[5], ids[6], ids[7], ids[8]] as [
      string,
      string,
      string,
      string,
    ];
    await db.transact((trx) => insertRedaction(trx, third, message, room.roomId));
    await db.transact((trx) => insertRedaction(trx, second, message, room.roomId));
    // A redaction claiming an event of another room does not apply.
    await db.transact((trx) => insertRedaction(trx, topic, ids[1] as string, '!elsewhere:a.test'));
    expect(await db.read((k) => selectRedactionsOf(k, ids))).toEqual(new Map([[message, second]]));
  });

  it('pages timelines in both directions, skipping events clients never see', async () => {
    const db = await openDatabase();
    const { graph, room, positions, ids } = await storedRoom(db);
    const roomId = room.roomId;
    // A rejected event and an outlier in the same room are not part of the timeline.
    const rejected = room.message('@mallory:a.test', 'not a member', { track: false });
    await graph.persistEvent(rejected, {
      stateBefore: (await graph.stateAfterEvent(room.head)) ?? new Map(),
      rejected: { rule: 'sender.not_joined', reason: 'test' },
    });
    const outlier = room.message(ALICE, 'outlier', { track: false });
    await graph.persistEvent(outlier, { outlier: true });

    const max = await db.read((k) => selectMaxStreamOrdering(k));
    expect(max).toBe((positions.get(room.head) as number) + 2);
    const back = await db.read((k) => selectTimeline(k, roomId, { dir: 'b', from: max, limit: 3 }));
    expect(back.map((r) => r.event_id)).toEqual([ids[8], ids[7], ids[6]]);
    const bounded = await db.read((k) =>
      selectTimeline(k, roomId, {
        dir: 'b',
        from: max,
        to: positions.get(ids[7] as string),
        limit: 10,
      }),
    );
    expect(bounded.map((r) => r.event_id)).toEqual([ids[8]]);
    const forward = await db.read((k) =>
      selectTimeline(k, roomId, {
        dir: 'f',
        from: positions.get(ids[5] as string) as number,
        limit: 2,
      }),
    );
    expect(forward.map((r) => r.event_id)).toEqual([ids[6], ids[7]]);
    const all = await db.read((k) => selectTimeline(k, roomId, { dir: 'f', from: 0, limit: 100 }));
    expect(all.map((r) => r.event_id)).toEqual(ids);
    expect(all[0]).toMatchObject({ type: 'm.room.create', state_key: '', sender: ALICE });

    expect(
      await db.read((k) =>
        selectLastEventAtOrBefore(k, roomId, positions.get(ids[3] as string) as number),
      ),
    ).toBe(ids[3]);
    expect(await db.read((k) => selectLastEventAtOrBefore(k, roomId, 0))).toBeUndefined();
  });

  it('finds events by timestamp', async () => {
    const db = await openDatabase();
    const { room, ids } = await storedRoom(db);
    const ts = (i: number) => (room.events[i] as RoomEvent).originServerTs;
    const after = await db.read((k) => selectEventsByTimestamp(k, room.roomId, ts(4) + 1, 'f', 2));
    expect(after.map((r) => r.event_id)).toEqual([ids[5], ids[6]]);
    const before = await db.read((k) => selectEventsByTimestamp(k, room.roomId, ts(4) + 1, 'b', 2));
    expect(before.map((r) => r.event_id)).toEqual([ids[4], ids[3]]);
    const skipped = await db.read((k) =>
      selectEventsByTimestamp(k, room.roomId, ts(4) + 1, 'b', 1, 1),
    );
    expect(skipped.map((r) => r.event_id)).toEqual([ids[3]]);
    expect(
      await db.read((k) => selectEventsByTimestamp(k, room.roomId, ts(8) + 1, 'f', 2)),
    ).toEqual([]);
  });

  it('knows which state each state event replaced', async () => {
    const db = await openDatabase();
    const { ids } = await storedRoom(db);
    // The second topic replaced the first; nothing else replaced anything.
    expect(await db.read((k) => selectReplacedStates(k, ids))).toEqual(new Map([[ids[8], ids[6]]]));
  });
});
