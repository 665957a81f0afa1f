import type { Selectable } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import type { EventsTable } from '../schema.js';
import type { TenantDatabase } from '../tenant-database.js';
import { openTenantDatabase } from '../tenant-database.js';
import { MAX_IDS_PER_QUERY } from './batches.js';
import {
  insertEvent,
  selectAuthEventIds,
  selectEventMetadata,
  selectEventPdus,
  updateOutlierToEvent,
} from './events.js';
import { advanceForwardExtremities, selectForwardExtremities } from './forward-extremities.js';
import { insertRoom, selectRoomVersion } from './rooms.js';
import { currentSequenceValue, nextSequenceValue } from './sequences.js';
import { insertEventStateGroup, insertStateGroup, selectEventStates } from './state-groups.js';

const ROOM = '!room:a.test';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function openRoomDatabase(): Promise<TenantDatabase> {
  const test = await openTestDatabaseConfig();
  const db = await openTenantDatabase(test.config, { serverName: 'a.test' });
  cleanups.push(async () => {
    await db.close();
    await test.cleanup();
  });
  await db.transact((trx) => insertRoom(trx, ROOM, '10'));
  return db;
}

let ordering = 0;
function row(eventId: string, overrides: Partial<Selectable<EventsTable>> = {}) {
  ordering += 1;
  return {
    event_id: eventId,
    room_id: ROOM,
    type: 'm.room.message',
    state_key: null,
    sender: '@alice:a.test',
    depth: 1,
    origin_server_ts: 1_700_000_000_000,
    stream_ordering: ordering,
    outlier: 0,
    soft_failed: 0,
    rejected_reason: null,
    pdu: JSON.stringify({ event_id: eventId }),
    ...overrides,
  };
}

describe('room graph storage', () => {
  it('records rooms once, keeping the first version', async () => {
    const db = await openRoomDatabase();
    expect(await db.transact((trx) => insertRoom(trx, ROOM, '12'))).toBe('10');
    expect(await db.read((k) => selectRoomVersion(k, ROOM))).toBe('10');
    expect(await db.read((k) => selectRoomVersion(k, '!other:a.test'))).toBeUndefined();
  });

  it('hands out sequence values only in transactions that commit', async () => {
    const db = await openRoomDatabase();
    expect(await db.read((k) => currentSequenceValue(k, 'stream_ordering'))).toBe(0);
    expect(await db.transact((trx) => nextSequenceValue(trx, 'stream_ordering'))).toBe(1);
    await expect(
      db.transact(async (trx) => {
        await nextSequenceValue(trx, 'stream_ordering');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const values = await Promise.all(
      Array.from({ length: 5 }, () =>
        db.transact((trx) => nextSequenceValue(trx, 'stream_ordering')),
      ),
    );
    expect(values.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6]);
    expect(await db.transact((trx) => nextSequenceValue(trx, 'state_group'))).toBe(1);
  });

  it('stores events with their edges and reads them back in batches', async () => {
    const db = await openRoomDatabase();
    const count = MAX_IDS_PER_QUERY * 2 + 17;
    const ids = Array.from({ length: count }, (_, i) => `$e${i}`);
    await db.transact(async (trx) => {
      for (const [i, id] of ids.entries()) {
        const prev = i === 0 ? [] : [ids[i - 1] as string, ids[i - 1] as string];
        await insertEvent(trx, row(id, { depth: i + 1 }), prev, ['$e0', '$e0']);
      }
    });
    const rows = await db.read((k) => selectEventPdus(k, [...ids, '$unknown', '$e5']));
    expect(rows.length).toBe(count);
    expect(rows.find((r) => r.event_id === '$e5')).toEqual({
      event_id: '$e5',
      room_id: ROOM,
      pdu: JSON.stringify({ event_id: '$e5' }),
    });
    const metadata = await db.read((k) => selectEventMetadata(k, ids));
    expect(metadata.length).toBe(count);
    expect(metadata.find((r) => r.event_id === '$e5')).toMatchObject({ depth: 6, state_key: null });
    const edges = await db.read((k) =>
      k.selectFrom('event_prev_events').selectAll().where('event_id', '=', '$e3').execute(),
    );
    expect(edges).toEqual([{ event_id: '$e3', prev_event_id: '$e2' }]);
    const authEdges = await db.read((k) =>
      k
        .selectFrom('event_auth_events')
        .select('auth_event_id')
        .where('event_id', '=', '$e3')
        .execute(),
    );
    expect(authEdges).toEqual([{ auth_event_id: '$e0' }]);
  });

  it('reads the auth event IDs of events in batches, events without any included', async () => {
    const db = await openRoomDatabase();
    const count = MAX_IDS_PER_QUERY + 7;
    const ids = Array.from({ length: count }, (_, i) => `$m${i}`);
    await db.transact(async (trx) => {
      await insertEvent(trx, row('$create'), [], []);
      await insertEvent(trx, row('$power'), ['$create'], ['$create']);
      for (const id of ids) {
        await insertEvent(trx, row(id), ['$power'], ['$power', '$create', '$power']);
      }
    });
    const found = await db.read((k) =>
      selectAuthEventIds(k, ['$unknown', ...ids, '$create', '$power', '$m3']),
    );
    expect(found.size).toBe(count + 2);
    expect(found.get('$create')).toEqual([]);
    expect(found.get('$power')).toEqual(['$create']);
    expect(found.has('$unknown')).toBe(false);
    for (const id of ids) expect(found.get(id)?.sort()).toEqual(['$create', '$power']);
    expect(await db.read((k) => selectAuthEventIds(k, []))).toEqual(new Map());
  });

  it('turns an outlier into a regular event', async () => {
    const db = await openRoomDatabase();
    await db.transact((trx) => insertEvent(trx, row('$o', { outlier: 1 }), [], []));
    await db.transact((trx) =>
      updateOutlierToEvent(trx, '$o', {
        stream_ordering: 9_999,
        soft_failed: 1,
        rejected_reason: null,
      }),
    );
    expect(await db.read((k) => selectEventMetadata(k, ['$o']))).toMatchObject([
      { outlier: 0, soft_failed: 1, stream_ordering: 9_999, rejected_reason: null },
    ]);
  });

  it('moves forward extremities past accepted events only', async () => {
    const db = await openRoomDatabase();
    const extremities = () => db.read((k) => selectForwardExtremities(k, ROOM));
    const add = (id: string, prevs: string[], overrides: Partial<Selectable<EventsTable>> = {}) =>
      db.transact(async (trx) => {
        const stored = row(id, overrides);
        await insertEvent(trx, stored, prevs, []);
        if (stored.outlier === 0 && stored.soft_failed === 0 && stored.rejected_reason === null) {
          await advanceForwardExtremities(trx, ROOM, id, prevs);
        }
      });

    await add('$a', []);
    expect(await extremities()).toEqual(['$a']);
    await add('$b', ['$a']);
    await add('$c', ['$a']);
    expect(await extremities()).toEqual(['$b', '$c']);
    await add('$d', ['$b', '$c']);
    expect(await extremities()).toEqual(['$d']);
    // A late event that a stored accepted event already follows is no extremity…
    await add('$f', ['$e', '$d']);
    await add('$e', ['$d']);
    expect(await extremities()).toEqual(['$f']);
    // …but one followed only by rejected, soft-failed or outlier events is.
    await add('$x1', ['$h'], { rejected_reason: 'no' });
    await add('$x2', ['$h'], { soft_failed: 1 });
    await add('$x3', ['$h'], { outlier: 1 });
    await add('$h', ['$f']);
    expect(await extremities()).toEqual(['$h']);
  });

  it('finds the state group after each event, with what the event replaced', async () => {
    const db = await openRoomDatabase();
    await db.transact(async (trx) => {
      await insertEvent(trx, row('$s', { type: 'm.room.topic', state_key: '' }), [], []);
      await insertEvent(trx, row('$r', { rejected_reason: 'denied' }), [], []);
      const group = await insertStateGroup(trx, ROOM, {
        kind: 'snapshot',
        entries: new Map([['["m.room.topic",""]', '$s']]),
      });
      await insertEventStateGroup(trx, {
        eventId: '$s',
        stateGroup: group.stateGroup,
        replacesState: '$old',
      });
      await insertEventStateGroup(trx, {
        eventId: '$r',
        stateGroup: group.stateGroup,
        replacesState: null,
      });
    });
    const states = await db.read((k) => selectEventStates(k, ['$s', '$r', '$none']));
    expect([...states.keys()].sort()).toEqual(['$r', '$s']);
    expect(states.get('$s')).toMatchObject({
      roomId: ROOM,
      type: 'm.room.topic',
      stateKey: '',
      replacesState: '$old',
      rejected: false,
    });
    expect(states.get('$r')).toMatchObject({ stateKey: null, rejected: true });
  });
});
