import { afterEach, describe, expect, it } from 'vitest';
import { SignedRoom } from '../../../test/helpers/signed-room.js';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { selectTimeline } from '../../storage/rooms/timeline.js';
import { openTenantDatabase } from '../../storage/tenant-database.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { RoomGraph } from './room-graph.js';

const ALICE = '@alice:a.test';
const BOB = '@bob:b.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openGraph(): Promise<{ db: TenantDatabase; graph: RoomGraph }> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'b.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  return { db, graph: new RoomGraph(db) };
}

/**
 * Storing a room's past (backfill): a server that joined late has the room's state as outliers
 * and its join in the graph; the events before the join, stored oldest first with
 * `backfilledAt`, take positions below every other event, keep the forward extremities and the
 * current state as they were, and leave the backfill points at the oldest one stored.
 */
describe('RoomGraph backfill', () => {
  it('stores the past below every event, in order, without moving the head', async () => {
    const { db, graph } = await openGraph();
    const room = new SignedRoom('10', ALICE);
    room.join(ALICE);
    room.state(ALICE, 'm.room.join_rules', { join_rule: 'public' });
    const history = [room.message(ALICE, 'one'), room.message(ALICE, 'two')];
    const join = room.join(BOB);
    const [create, aliceJoin, joinRules] = room.events as [
      (typeof room.events)[0],
      (typeof room.events)[0],
      (typeof room.events)[0],
    ];

    // As after a federated join: the state as outliers, the join with the state before it.
    await graph.createRoom(room.roomId, room.version.id);
    for (const event of [create, aliceJoin, joinRules]) {
      await graph.persistEvent(event, { outlier: true });
    }
    const joinAt = await graph.persistEvent(join, { stateBefore: room.stateBefore(join.eventId) });
    expect(await graph.forwardExtremities(room.roomId)).toEqual([join.eventId]);
    const current = await graph.currentState(room.roomId);
    expect(await graph.backfillPoints(room.roomId, 10)).toEqual([history[1]?.eventId]);

    // The first batch: the two messages (the newest first reserved last).
    const positions = await graph.reserveBackfillPositions(2);
    expect(positions[0]).toBeLessThan(0);
    expect(positions[1]).toBe((positions[0] as number) + 1);
    for (const [index, event] of history.entries()) {
      const check = await graph.checkEvent(event, {
        stateBefore: room.stateBefore(event.eventId),
      });
      expect(check.rejected).toBeUndefined();
      const at = await graph.persistEvent(event, {
        stateBefore: check.stateBefore,
        backfilledAt: positions[index] as number,
      });
      expect(at).toBe(positions[index]);
    }
    expect(await graph.forwardExtremities(room.roomId)).toEqual([join.eventId]);
    expect(await graph.currentState(room.roomId)).toEqual(current);
    expect(await graph.backfillPoints(room.roomId, 10)).toEqual([joinRules.eventId]);

    // The next batch: outliers of the state join the timeline, before the messages.
    const earlier = [create, aliceJoin, joinRules];
    const more = await graph.reserveBackfillPositions(3);
    expect(more[2]).toBeLessThan(positions[0] as number);
    for (const [index, event] of earlier.entries()) {
      await graph.persistEvent(event, {
        stateBefore: room.stateBefore(event.eventId),
        backfilledAt: more[index] as number,
      });
    }
    expect(await graph.backfillPoints(room.roomId, 10)).toEqual([]);
    expect(await graph.forwardExtremities(room.roomId)).toEqual([join.eventId]);
    expect(await graph.stateAfterEvent(history[0]?.eventId as string)).toEqual(
      room.stateAfter(history[0]?.eventId as string),
    );

    const timeline = await db.read((d) =>
      selectTimeline(d, room.roomId, { dir: 'f', from: -1000, limit: 10 }),
    );
    expect(timeline.map((row) => row.event_id)).toEqual(
      [...earlier, ...history, join].map((event) => event.eventId),
    );
    expect(timeline.at(-1)?.stream_ordering).toBe(joinAt);
  });
});
