import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../room-event.js';
import { requireRoomVersion } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { EventCache } from './event-cache.js';
import { isPowerEvent, senderPowerLevel } from './event-roles.js';
import { mainlineSort, sortPowerEvents } from './resolve-v2.js';
import { ALICE, BOB, CHARLIE, ZARA, eventIdOf, fetcherOf, makeEvent, nodeOf } from './test-room.js';
import type { EventInit } from './test-room.js';

const V10 = requireRoomVersion('10');
const V11 = requireRoomVersion('11');
const V12 = requireRoomVersion('12');

async function cacheOf(roomVersion: RoomVersion, inits: EventInit[]): Promise<EventCache> {
  const events = inits.map((init) => makeEvent(roomVersion, init));
  const cache = new EventCache(fetcherOf(events));
  await cache.load(events.map((event) => event.eventId));
  return cache;
}

const create = (content: Record<string, string | string[]>): EventInit => ({
  id: 'CREATE',
  sender: ALICE,
  type: 'm.room.create',
  stateKey: '',
  content,
});

describe('isPowerEvent', () => {
  const event = (init: Omit<EventInit, 'id'>): RoomEvent => makeEvent(V11, { id: 'X', ...init });
  it('is true for power levels, join rules, the create event, and kicks and bans of others', () => {
    expect(isPowerEvent(event({ sender: ALICE, type: 'm.room.power_levels', stateKey: '' }))).toBe(
      true,
    );
    expect(isPowerEvent(event({ sender: ALICE, type: 'm.room.join_rules', stateKey: '' }))).toBe(
      true,
    );
    expect(isPowerEvent(event({ sender: ALICE, type: 'm.room.create', stateKey: '' }))).toBe(true);
    const kick = {
      sender: ALICE,
      type: 'm.room.member',
      stateKey: BOB,
      content: { membership: 'leave' },
    };
    expect(isPowerEvent(event(kick))).toBe(true);
    expect(isPowerEvent(event({ ...kick, content: { membership: 'ban' } }))).toBe(true);
  });

  it('is false for leaving oneself, joins, invites, other state and messages', () => {
    const member = { sender: BOB, type: 'm.room.member', stateKey: BOB };
    expect(isPowerEvent(event({ ...member, content: { membership: 'leave' } }))).toBe(false);
    expect(isPowerEvent(event({ ...member, content: { membership: 'join' } }))).toBe(false);
    expect(
      isPowerEvent(
        event({
          sender: ALICE,
          type: 'm.room.member',
          stateKey: BOB,
          content: { membership: 'invite' },
        }),
      ),
    ).toBe(false);
    expect(isPowerEvent(event({ sender: ALICE, type: 'm.room.topic', stateKey: '' }))).toBe(false);
    expect(isPowerEvent(event({ sender: ALICE, type: 'm.room.power_levels' }))).toBe(false);
  });
});

describe('senderPowerLevel', () => {
  const topicBy = (id: string, sender: string, auth: string[]): EventInit => ({
    id,
    sender,
    type: 'm.room.topic',
    stateKey: '',
    authEvents: auth,
  });
  const pl: EventInit = {
    id: 'PL',
    sender: ALICE,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { [ALICE]: 100, [BOB]: 50 }, users_default: 10 },
    authEvents: ['CREATE'],
  };

  it('reads the power levels auth event, with users_default for unlisted users', async () => {
    for (const roomVersion of [V10, V11]) {
      const cache = await cacheOf(roomVersion, [
        create({ creator: ALICE }),
        pl,
        topicBy('TA', ALICE, ['CREATE', 'PL']),
        topicBy('TB', BOB, ['CREATE', 'PL']),
        topicBy('TC', CHARLIE, ['CREATE', 'PL']),
      ]);
      const level = (node: string) =>
        senderPowerLevel(cache.get(eventIdOf(node)) as RoomEvent, cache, roomVersion);
      expect([level('TA'), level('TB'), level('TC')]).toEqual([100, 50, 10]);
    }
  });

  it('without power levels gives the creator 100: content.creator before v11, the sender from v11', async () => {
    const levels = async (roomVersion: RoomVersion, createContent: Record<string, string>) => {
      const cache = await cacheOf(roomVersion, [
        { ...create(createContent), sender: BOB },
        topicBy('TA', ALICE, ['CREATE']),
        topicBy('TB', BOB, ['CREATE']),
      ]);
      return ['TA', 'TB'].map((node) =>
        senderPowerLevel(cache.get(eventIdOf(node)) as RoomEvent, cache, roomVersion),
      );
    };
    // The create event is sent by Bob naming Alice as creator.
    expect(await levels(V10, { creator: ALICE })).toEqual([100, 0]);
    expect(await levels(V11, { creator: ALICE })).toEqual([0, 100]);
  });

  it('gives v12 creators, additional ones included, infinite power; it reads the create event from the room ID', async () => {
    const cache = await cacheOf(V12, [
      create({ room_version: '12', additional_creators: [ZARA] }),
      { ...pl, content: { users: { [BOB]: 50 } }, authEvents: [] },
      topicBy('TA', ALICE, ['PL']),
      topicBy('TZ', ZARA, ['PL']),
      topicBy('TB', BOB, ['PL']),
      topicBy('TC', CHARLIE, []),
    ]);
    const level = (node: string) =>
      senderPowerLevel(cache.get(eventIdOf(node)) as RoomEvent, cache, V12);
    expect([level('TA'), level('TZ'), level('TB'), level('TC')]).toEqual([
      Infinity,
      Infinity,
      50,
      0,
    ]);
  });
});

describe('sortPowerEvents (reverse topological power ordering)', () => {
  // Alice 100, Bob 50, Charlie 50 under PL. Four power events citing PL only, and one citing
  // another: the auth edge beats power, power beats time, time beats the event ID.
  const inits: EventInit[] = [
    create({ creator: ALICE }),
    {
      id: 'PL',
      sender: ALICE,
      type: 'm.room.power_levels',
      stateKey: '',
      content: { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } },
      authEvents: ['CREATE'],
      ts: 1,
    },
    {
      id: 'KB',
      sender: BOB,
      type: 'm.room.member',
      stateKey: ZARA,
      content: { membership: 'leave' },
      authEvents: ['CREATE', 'PL'],
      ts: 10,
    },
    {
      id: 'KC',
      sender: CHARLIE,
      type: 'm.room.member',
      stateKey: ZARA,
      content: { membership: 'ban' },
      authEvents: ['CREATE', 'PL'],
      ts: 10,
    },
    {
      id: 'JC',
      sender: CHARLIE,
      type: 'm.room.join_rules',
      stateKey: '',
      content: { join_rule: 'invite' },
      authEvents: ['CREATE', 'PL'],
      ts: 5,
    },
    {
      id: 'JA',
      sender: ALICE,
      type: 'm.room.join_rules',
      stateKey: '',
      content: { join_rule: 'public' },
      authEvents: ['CREATE', 'PL'],
      ts: 20,
    },
    {
      id: 'PB',
      sender: BOB,
      type: 'm.room.power_levels',
      stateKey: '',
      content: { users: {} },
      authEvents: ['CREATE', 'KC'],
      ts: 0,
    },
    {
      id: 'TOPIC',
      sender: ALICE,
      type: 'm.room.topic',
      stateKey: '',
      authEvents: ['CREATE', 'PL'],
      ts: 0,
    },
  ];

  it('orders by auth edges, then sender power descending, then timestamp, then event ID', async () => {
    const cache = await cacheOf(V11, inits);
    const full = new Set(['PL', 'KB', 'KC', 'JC', 'JA', 'PB', 'TOPIC'].map(eventIdOf));
    const sorted = (await sortPowerEvents(full, cache, V11)).map(nodeOf);
    // PL first (cited by all); JA (Alice, 100) before the 50s; JC (ts 5) before KB and KC (ts 10,
    // KB < KC by ID); PB only after KC, which it cites. TOPIC is no power event.
    expect(sorted).toEqual(['PL', 'JA', 'JC', 'KB', 'KC', 'PB']);
  });

  it('brings in only the auth chain events that are in the full conflicted set', async () => {
    const cache = await cacheOf(V11, inits);
    const full = new Set(['KB', 'PB', 'KC', 'TOPIC'].map(eventIdOf));
    expect((await sortPowerEvents(full, cache, V11)).map(nodeOf)).toEqual(['KB', 'KC', 'PB']);
  });
});

describe('mainlineSort', () => {
  // Mainline P2 → P1 → P0. Q1 is a power levels event off the mainline citing P1.
  const pl = (id: string, auth: string[]): EventInit => ({
    id,
    sender: ALICE,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { [ALICE]: 100 } },
    authEvents: ['CREATE', ...auth],
  });
  const topic = (id: string, auth: string[], ts: number): EventInit => ({
    id,
    sender: ALICE,
    type: 'm.room.topic',
    stateKey: '',
    authEvents: ['CREATE', ...auth],
    ts,
  });
  const inits: EventInit[] = [
    create({ creator: ALICE }),
    pl('P0', []),
    pl('P1', ['P0']),
    pl('P2', ['P1']),
    pl('Q1', ['P1']),
    topic('ON_P2', ['P2'], 1),
    topic('ON_P1', ['P1'], 2),
    topic('ON_Q1', ['Q1'], 3),
    topic('ON_P0', ['P0'], 4),
    topic('NONE', [], 9),
    topic('ON_P0_LATE', ['P0'], 5),
    topic('ON_P0_TIE_B', ['P0'], 6),
    topic('ON_P0_TIE_A', ['P0'], 6),
  ];

  it('puts events based further back on the mainline first, then by timestamp and event ID', async () => {
    const cache = await cacheOf(V11, inits);
    const ids = [
      'ON_P2',
      'ON_P1',
      'ON_Q1',
      'ON_P0',
      'NONE',
      'ON_P0_LATE',
      'ON_P0_TIE_B',
      'ON_P0_TIE_A',
    ].map(eventIdOf);
    const sorted = (await mainlineSort(ids, eventIdOf('P2'), cache)).map(nodeOf);
    // NONE cites no power levels: position ∞, first. ON_Q1 meets the mainline at P1, like ON_P1.
    expect(sorted).toEqual([
      'NONE',
      'ON_P0',
      'ON_P0_LATE',
      'ON_P0_TIE_A',
      'ON_P0_TIE_B',
      'ON_P1',
      'ON_Q1',
      'ON_P2',
    ]);
  });

  it('without a resolved power levels event orders by timestamp and event ID only', async () => {
    const cache = await cacheOf(V11, inits);
    const ids = ['ON_P2', 'ON_P0', 'NONE', 'ON_P1'].map(eventIdOf);
    expect((await mainlineSort(ids, undefined, cache)).map(nodeOf)).toEqual([
      'ON_P2',
      'ON_P1',
      'ON_P0',
      'NONE',
    ]);
  });
});
