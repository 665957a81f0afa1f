import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../room-event.js';
import { requireRoomVersion } from '../room-versions.js';
import { orderByDepthAndHash } from './resolve-v1.js';
import { resolveState } from './resolve-state.js';
import {
  ALICE,
  BOB,
  CHARLIE,
  ZARA,
  fetcherOf,
  makeEvent,
  namedState,
  nodeOf,
  stateMapOf,
} from './test-room.js';
import type { EventInit } from './test-room.js';

// Room version 1 state resolution (rooms/v1): conflicts settled type by type against the state
// so far; power levels, join rules and members replayed in ascending depth then descending
// SHA-1 of the event ID, stopping at the first refusal; other events picked by highest depth then
// lowest SHA-1 among those allowed.

const V1 = requireRoomVersion('1');

const BASE: EventInit[] = [
  {
    id: 'CREATE',
    sender: ALICE,
    type: 'm.room.create',
    stateKey: '',
    content: { creator: ALICE },
    depth: 0,
  },
  {
    id: 'MA',
    sender: ALICE,
    type: 'm.room.member',
    stateKey: ALICE,
    content: { membership: 'join' },
    authEvents: ['CREATE'],
    depth: 1,
  },
  {
    id: 'P0',
    sender: ALICE,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { [ALICE]: 100, [BOB]: 50 } },
    authEvents: ['CREATE', 'MA'],
    depth: 2,
  },
  {
    id: 'JR',
    sender: ALICE,
    type: 'm.room.join_rules',
    stateKey: '',
    content: { join_rule: 'public' },
    authEvents: ['CREATE', 'MA', 'P0'],
    depth: 3,
  },
  {
    id: 'MB',
    sender: BOB,
    type: 'm.room.member',
    stateKey: BOB,
    content: { membership: 'join' },
    authEvents: ['CREATE', 'P0', 'JR'],
    depth: 4,
  },
  {
    id: 'MC',
    sender: CHARLIE,
    type: 'm.room.member',
    stateKey: CHARLIE,
    content: { membership: 'join' },
    authEvents: ['CREATE', 'P0', 'JR'],
    depth: 5,
  },
];
const BASE_NODES = BASE.map((init) => init.id);

function room(extra: EventInit[]): Map<string, RoomEvent> {
  const events = new Map<string, RoomEvent>();
  for (const init of [...BASE, ...extra]) events.set(init.id, makeEvent(V1, init));
  return events;
}

async function resolve(
  events: Map<string, RoomEvent>,
  ...states: string[][]
): Promise<Record<string, string>> {
  const stateSets = states.map((nodes) =>
    stateMapOf(nodes.map((node) => events.get(node) as RoomEvent)),
  );
  return namedState(await resolveState(V1, stateSets, fetcherOf(events.values())));
}

const pl = (
  id: string,
  sender: string,
  users: Record<string, number>,
  depth: number,
): EventInit => ({
  id,
  sender,
  type: 'm.room.power_levels',
  stateKey: '',
  content: { users },
  authEvents: ['CREATE', 'P0'],
  depth,
});
const topic = (id: string, sender: string, depth: number): EventInit => ({
  id,
  sender,
  type: 'm.room.topic',
  stateKey: '',
  content: {},
  authEvents: ['CREATE', 'P0'],
  depth,
});

describe('state resolution v1', () => {
  it('replays conflicting power levels by ascending depth and stops at the first refusal', async () => {
    // PLOW (Alice promotes Charlie), PMID (Bob, at 50, tries to give Zara 75: refused), PHIGH
    // (Charlie, promoted, would be allowed) — but the list stops at PMID.
    const events = room([
      pl('PLOW', ALICE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }, 6),
      pl('PMID', BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50, [ZARA]: 75 }, 7),
      pl('PHIGH', CHARLIE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50, [ZARA]: 10 }, 8),
    ]);
    const withPl = (node: string) => [...BASE_NODES.filter((n) => n !== 'P0'), node];
    const resolved = await resolve(events, withPl('PHIGH'), withPl('PMID'), withPl('PLOW'));
    expect(resolved['m.room.power_levels/']).toBe('PLOW');

    // Without the refused event in the way, the deepest allowed one ends the replay.
    expect((await resolve(events, withPl('PHIGH'), withPl('PLOW')))['m.room.power_levels/']).toBe(
      'PHIGH',
    );
  });

  it('takes the first event of a list unchecked, ordering equal depths by descending SHA-1', async () => {
    // sha1("$PY:example.com") = d105…, sha1("$PX:example.com") = bfb5…: PY comes first and is
    // taken even though Charlie has no power; Alice's PX, checked against it, is refused.
    const events = room([
      pl('PX', ALICE, { [ALICE]: 100, [BOB]: 0 }, 6),
      pl('PY', CHARLIE, { [CHARLIE]: 100 }, 6),
    ]);
    const withPl = (node: string) => [...BASE_NODES.filter((n) => n !== 'P0'), node];
    expect(
      orderByDepthAndHash([events.get('PX'), events.get('PY')] as RoomEvent[]).map((e) =>
        nodeOf(e.eventId),
      ),
    ).toEqual(['PX', 'PY']);
    const resolved = await resolve(events, withPl('PX'), withPl('PY'));
    expect(resolved['m.room.power_levels/']).toBe('PY');
  });

  it('picks the other events by highest depth, then lowest SHA-1, among those allowed', async () => {
    const events = room([
      topic('T1', ALICE, 6), // sha1 5d9d…
      topic('T2', ALICE, 6), // sha1 ef78…
      topic('TDEEP', CHARLIE, 9), // Charlie is below state_default: refused
      topic('TA', CHARLIE, 7), // sha1 29b6…, refused
      topic('TB', BOB, 7), // sha1 52b0…, allowed
    ]);
    const withTopic = (node: string) => [...BASE_NODES, node];
    expect((await resolve(events, withTopic('T2'), withTopic('T1')))['m.room.topic/']).toBe('T1');
    expect(
      (
        await resolve(events, withTopic('TDEEP'), withTopic('T1'), withTopic('TA'), withTopic('TB'))
      )['m.room.topic/'],
    ).toBe('TB');
    // None allowed: the last in the order (lowest depth, then highest SHA-1).
    expect((await resolve(events, withTopic('TDEEP'), withTopic('TA')))['m.room.topic/']).toBe(
      'TA',
    );
  });

  it('settles members against the power levels resolved before them', async () => {
    // Bob bans Charlie (Bob has 50 ≥ ban 50 in P0); Alice's conflicting PLOWER drops Bob to 0.
    // Power levels go first: PLOWER stands (the deeper of the two, and allowed), and the ban,
    // checked against it, is refused, so Charlie's join wins its conflict.
    const events = room([
      pl('PLOWER', ALICE, { [ALICE]: 100, [BOB]: 0 }, 6),
      {
        id: 'BAN',
        sender: BOB,
        type: 'm.room.member',
        stateKey: CHARLIE,
        content: { membership: 'ban' },
        authEvents: ['CREATE', 'P0', 'MB', 'MC'],
        depth: 6,
      },
    ]);
    const forkA = [...BASE_NODES.filter((n) => n !== 'MC'), 'BAN'];
    const forkB = [...BASE_NODES.filter((n) => n !== 'P0'), 'PLOWER'];
    const resolved = await resolve(events, forkA, forkB);
    expect(resolved).toEqual({
      'm.room.create/': 'CREATE',
      [`m.room.member/${ALICE}`]: 'MA',
      [`m.room.member/${BOB}`]: 'MB',
      [`m.room.member/${CHARLIE}`]: 'MC',
      'm.room.join_rules/': 'JR',
      'm.room.power_levels/': 'PLOWER',
    });
  });

  it('keeps a key held by only some states without checking it, unlike v2', async () => {
    const events = room([topic('TDEEP', CHARLIE, 9)]);
    const resolved = await resolve(events, [...BASE_NODES, 'TDEEP'], BASE_NODES);
    expect(resolved['m.room.topic/']).toBe('TDEEP');
    const v2 = requireRoomVersion('2');
    const stateSets = [[...BASE_NODES, 'TDEEP'], BASE_NODES].map((nodes) =>
      stateMapOf(nodes.map((node) => events.get(node) as RoomEvent)),
    );
    const resolvedV2 = namedState(await resolveState(v2, stateSets, fetcherOf(events.values())));
    expect(resolvedV2['m.room.topic/']).toBeUndefined();
  });

  it('drops unknown events from a conflict and keeps unknown unconflicted entries', async () => {
    const events = room([topic('T1', ALICE, 6)]);
    const withUnknown = stateMapOf(
      [...BASE_NODES, 'T1'].map((node) => events.get(node) as RoomEvent),
    );
    const other = new Map(withUnknown);
    other.set(JSON.stringify(['m.room.topic', '']), '$UNKNOWN:example.com');
    other.set(JSON.stringify(['m.room.name', '']), '$GHOST:example.com');
    const resolved = namedState(
      await resolveState(V1, [withUnknown, other], fetcherOf(events.values())),
    );
    expect(resolved['m.room.topic/']).toBe('T1');
    expect(resolved['m.room.name/']).toBe('GHOST');
  });
});
