import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openRoomServices, type TestRoomServices } from '../../../test/helpers/room-services.js';
import { checkContentHash, computeEventId } from '../../protocol/event-hashing.js';
import { verifyEventSignature } from '../../protocol/event-signing.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import { requireRoomVersion } from '../../protocol/room-versions.js';
import { selectMembership } from '../../storage/rooms/memberships.js';
import type { PersistedEvent } from './room-events.js';

const opened: TestRoomServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function open(): Promise<TestRoomServices & { alice: string; bob: string }> {
  const services = await openRoomServices();
  opened.push(services);
  return {
    ...services,
    alice: await services.createUser('alice'),
    bob: await services.createUser('bob'),
  };
}

async function countEvents(services: TestRoomServices, roomId: string): Promise<number> {
  const { rows } = await services.db.read((db) =>
    sql<{ n: number }>`select count(*) as n from events where room_id = ${roomId}`.execute(db),
  );
  return Number(rows[0]?.n);
}

/** The room's accepted events in stream order. */
async function timeline(services: TestRoomServices, roomId: string): Promise<RoomEvent[]> {
  const rows = await services.db.read((db) =>
    db
      .selectFrom('events')
      .select('event_id')
      .where('room_id', '=', roomId)
      .orderBy('stream_ordering')
      .execute(),
  );
  const events = await services.rooms.roomGraph.getEvents(rows.map((row) => row.event_id));
  return rows.map((row) => events.get(row.event_id) as RoomEvent);
}

describe.each(['12', '10', '1'])('local events, room version %s', (versionId) => {
  const version = requireRoomVersion(versionId);

  it('builds signed, hashed events in a linear chain with the right auth events', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, {
      room_version: versionId,
      preset: 'public_chat',
      name: 'Chain',
    });
    await s.rooms.roomMembership.join(s.bob, roomId);
    await s.rooms.roomMessages.send(
      { userId: s.bob, deviceId: 'D', isAdmin: false },
      roomId,
      'm.room.message',
      't',
      {
        body: 'hi',
      },
    );
    const events = await timeline(s, roomId);
    const { keyId, publicKey } = s.serverKeys.signingKey;
    for (const [index, event] of events.entries()) {
      expect(event.depth).toBe(index + 1);
      expect(event.prevEventIds).toEqual(
        index === 0 ? [] : [(events[index - 1] as RoomEvent).eventId],
      );
      expect(checkContentHash(event.pdu)).toBe(true);
      expect(verifyEventSignature(event.pdu, 'alpha.test', keyId, publicKey, version)).toBe(true);
      expect(computeEventId(event.pdu, version)).toBe(event.eventId);
      // v12: the room ID names the create event, which no event lists.
      const create = events[0] as RoomEvent;
      expect(event.authEventIds.includes(create.eventId)).toBe(
        !version.roomIdFromCreateEvent && index > 0,
      );
    }
    expect(await s.rooms.roomGraph.forwardExtremities(roomId)).toEqual([events.at(-1)?.eventId]);
    if (version.roomIdFromCreateEvent)
      expect(roomId).toBe(`!${(events[0] as RoomEvent).eventId.slice(1)}`);
    else expect(roomId).toMatch(/:alpha\.test$/);
    if (version.eventIdFormat === 'v1') expect(events[1]?.pdu.origin).toBe('alpha.test');

    // Bob's join lists the power levels, the join rules and his (absent) member event's key.
    const join = events.find(
      (e) => e.type === 'm.room.member' && e.stateKey === s.bob,
    ) as RoomEvent;
    const state = await s.rooms.roomGraph.stateBeforeEvent(join.eventId);
    const expected = ['m.room.power_levels', 'm.room.join_rules']
      .map((type) => state?.get(stateKeyOf(type, '')))
      .concat(version.roomIdFromCreateEvent ? [] : [state?.get(stateKeyOf('m.room.create', ''))]);
    expect([...join.authEventIds].sort()).toEqual(expected.sort());
  });

  it('keeps memberships in step with the room state', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, {
      room_version: versionId,
      invite: [s.bob],
    });
    const invited = await s.db.read((db) => selectMembership(db, roomId, s.bob));
    expect(invited).toMatchObject({
      membership: 'invite',
      sender: s.alice,
      last_join_stream_ordering: null,
    });
    await s.rooms.roomMembership.join(s.bob, roomId);
    const joined = await s.db.read((db) => selectMembership(db, roomId, s.bob));
    expect(joined?.membership).toBe('join');
    expect(joined?.last_join_stream_ordering).toBe(joined?.stream_ordering);
    await s.rooms.roomMembership.leave(s.bob, roomId);
    const left = await s.db.read((db) => selectMembership(db, roomId, s.bob));
    expect(left?.membership).toBe('leave');
    expect(left?.last_join_stream_ordering).toBe(joined?.stream_ordering);
    const state = await s.rooms.roomGraph.currentState(roomId);
    expect(state.get(stateKeyOf('m.room.member', s.bob))).toBe(left?.event_id);
  });
});

describe('RoomEvents', () => {
  it('serialises concurrent sends into one chain', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, {});
    const sender = { userId: s.alice, deviceId: 'D', isAdmin: false };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.rooms.roomMessages.send(sender, roomId, 'm.room.message', `t${i}`, { body: String(i) }),
      ),
    );
    const events = await timeline(s, roomId);
    for (const [index, event] of events.entries()) {
      expect(event.depth).toBe(index + 1);
      if (index > 0) expect(event.prevEventIds).toEqual([(events[index - 1] as RoomEvent).eventId]);
    }
    expect(await s.rooms.roomGraph.forwardExtremities(roomId)).toHaveLength(1);
  });

  it('never stores an event the auth rules refuse', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, {});
    const before = await countEvents(s, roomId);
    await expect(
      s.rooms.roomEvents.send(roomId, {
        type: 'm.room.message',
        sender: s.bob,
        content: { body: 'x' },
      }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
    expect(await countEvents(s, roomId)).toBe(before);
  });

  it('rolls the event back with its bookkeeping when a write in its transaction fails', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, { preset: 'public_chat' });
    const before = await countEvents(s, roomId);
    await expect(
      s.rooms.roomEvents.send(
        roomId,
        { type: 'm.room.member', stateKey: s.bob, sender: s.bob, content: { membership: 'join' } },
        {
          withinTransaction: async () => {
            throw new Error('boom');
          },
        },
      ),
    ).rejects.toThrow('boom');
    expect(await countEvents(s, roomId)).toBe(before);
    expect(await s.db.read((db) => selectMembership(db, roomId, s.bob))).toBeUndefined();
  });

  it('runs local event writes in the storing transaction, their follow-up once committed', async () => {
    const s = await open();
    const order: string[] = [];
    s.rooms.roomEvents.addLocalEventWrite(async (trx, event) => {
      // Inside the transaction: the event's own row is already written.
      const row = await trx
        .selectFrom('events')
        .select('event_id')
        .where('event_id', '=', event.eventId)
        .executeTakeFirst();
      order.push(`write ${event.type} ${row !== undefined}`);
      if (event.type === 'org.example.fail') throw new Error('boom');
      return () => order.push(`committed ${event.type}`);
    });
    s.rooms.roomEvents.persisted.add((event) => {
      if (event.type.startsWith('org.example')) order.push(`announced ${event.type}`);
    });
    const roomId = await s.rooms.roomCreation.create(s.alice, {});
    order.length = 0;
    await s.rooms.roomEvents.send(roomId, { type: 'org.example.ok', sender: s.alice, content: {} });
    expect(order).toEqual([
      'write org.example.ok true',
      'committed org.example.ok',
      'announced org.example.ok',
    ]);
    // A failing write rolls the event back; nothing follows it.
    order.length = 0;
    const before = await countEvents(s, roomId);
    await expect(
      s.rooms.roomEvents.send(roomId, { type: 'org.example.fail', sender: s.alice, content: {} }),
    ).rejects.toThrow('boom');
    expect(order).toEqual(['write org.example.fail true']);
    expect(await countEvents(s, roomId)).toBe(before);
  });

  it('announces committed events after the lock, with their stream positions', async () => {
    const s = await open();
    const seen: PersistedEvent[] = [];
    s.rooms.roomEvents.persisted.add(async (event) => {
      seen.push(event);
      // A listener may send into the same room without deadlocking.
      if (event.type === 'org.example.ping') {
        await s.rooms.roomEvents.send(event.roomId, {
          type: 'org.example.pong',
          sender: s.alice,
          content: {},
        });
      }
    });
    const roomId = await s.rooms.roomCreation.create(s.alice, {});
    expect(seen.map((e) => e.type)).toEqual([
      'm.room.create',
      'm.room.member',
      'm.room.power_levels',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
    ]);
    expect(seen[1]).toMatchObject({
      roomId,
      stateKey: s.alice,
      sender: s.alice,
      membership: 'join',
    });
    await s.rooms.roomEvents.send(roomId, {
      type: 'org.example.ping',
      sender: s.alice,
      content: {},
    });
    expect(seen.slice(-2).map((e) => e.type)).toEqual(['org.example.ping', 'org.example.pong']);
    const positions = seen.map((e) => e.streamOrdering);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it('caps prev_events at the 10 deepest forward extremities', async () => {
    const s = await open();
    const roomId = await s.rooms.roomCreation.create(s.alice, {});
    const graph = s.rooms.roomGraph;
    const version = requireRoomVersion('12');
    const [head] = await graph.forwardExtremities(roomId);
    const headEvent = (await graph.getEvent(head as string)) as RoomEvent;
    const state = await graph.computeStateBefore(roomId, [head as string]);
    const authEvents = await s.rooms.roomEvents.authEventsFor(
      { type: 'org.example.fork', sender: s.alice, content: {} },
      version,
      state,
    );
    // Twelve events on the same parent: twelve forward extremities.
    await s.rooms.roomEvents.withRoomLock(roomId, async (persist) => {
      for (let i = 0; i < 12; i++) {
        const fork = s.rooms.roomEvents.build(
          { type: 'org.example.fork', sender: s.alice, content: { i } },
          version,
          roomId,
          [headEvent],
          authEvents,
        );
        await persist(fork, state);
      }
    });
    expect(await graph.forwardExtremities(roomId)).toHaveLength(12);
    const sent = await s.rooms.roomEvents.send(roomId, {
      type: 'org.example.merge',
      sender: s.alice,
      content: {},
    });
    expect(sent.event?.prevEventIds).toHaveLength(10);
    expect(sent.event?.depth).toBe(headEvent.depth + 2);
    expect(await graph.forwardExtremities(roomId)).toHaveLength(3);
  });

  it('gives a second identical room within the same millisecond its own ID', async () => {
    const s = await open();
    const first = await s.rooms.roomCreation.create(s.alice, {});
    const second = await s.rooms.roomCreation.create(s.alice, {});
    expect(second).not.toBe(first);
    expect(await s.rooms.roomMembership.joinedRooms(s.alice)).toEqual([first, second].sort());
  });
});
