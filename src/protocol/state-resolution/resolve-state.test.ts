import { describe, expect, it } from 'vitest';
import { stateKeyOf } from '../room-event.js';
import type { StateMap } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS, requireRoomVersion } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { resolveState } from './resolve-state.js';
import {
  ALICE,
  EventGraph,
  fetcherOf,
  largeForkedRoom,
  makeEvent,
  namedState,
  prng,
  randomForks,
  shuffler,
} from './test-room.js';
import type { FetchLog, NodeSpec } from './test-room.js';

describe('resolveState', () => {
  it('dispatches on the room version: v1 keeps a key only some states hold, v2 and v2.1 check it', async () => {
    const nodes: NodeSpec[] = [
      { id: 'T', sender: '@nobody:example.com', type: 'm.room.topic', stateKey: '', content: {} },
    ];
    for (const roomVersion of [requireRoomVersion('1'), requireRoomVersion('2')]) {
      const graph = await EventGraph.build(roomVersion, nodes, [['END', 'T', 'START']]);
      const resolved = namedState(
        await resolveState(roomVersion, [graph.stateAt('T'), graph.stateAt('START')], graph.fetch),
      );
      expect(resolved['m.room.topic/'], `room version ${roomVersion.id}`).toBe(
        roomVersion.id === '1' ? 'T' : undefined,
      );
    }
  });

  it('returns an empty state for no states, and a copy of the state for one', async () => {
    for (const roomVersion of KNOWN_ROOM_VERSIONS) {
      expect(await resolveState(roomVersion, [], fetcherOf([]))).toEqual(new Map());
      const only: StateMap = new Map([[stateKeyOf('m.room.topic', ''), '$T:example.com']]);
      const resolved = await resolveState(roomVersion, [only], fetcherOf([]));
      expect(resolved).toEqual(only);
      expect(resolved).not.toBe(only);
    }
  });

  it('skips unknown events without crashing', async () => {
    const roomVersion = requireRoomVersion('11');
    const graph = await EventGraph.build(
      roomVersion,
      [{ id: 'T1', sender: ALICE, type: 'm.room.topic', stateKey: '', content: {} }],
      [['END', 'T1', 'START']],
    );
    const withT1 = graph.stateAt('T1');
    const other = new Map(graph.stateAt('START'));
    other.set(stateKeyOf('m.room.topic', ''), '$UNKNOWN:example.com');
    other.set(stateKeyOf('m.room.name', ''), '$GHOST:example.com');
    // And an auth event nobody has, cited by a known event.
    const broken = makeEvent(roomVersion, {
      id: 'BROKEN',
      sender: ALICE,
      type: 'm.room.name',
      stateKey: 'x',
      authEvents: ['MISSING'],
    });
    other.set(stateKeyOf('m.room.name', 'x'), broken.eventId);
    const fetch = fetcherOf([...graph.events.values(), broken]);
    const resolved = namedState(await resolveState(roomVersion, [withT1, other], fetch));
    expect(resolved['m.room.topic/']).toBe('T1');
    expect(resolved['m.room.name/']).toBeUndefined();
    // BROKEN's auth event is unknown, but the resolved state has what the rules need.
    expect(resolved['m.room.name/x']).toBe('BROKEN');
  });

  it('fetches in batches: never the same event twice, one call per layer of the walk', async () => {
    const roomVersion = requireRoomVersion('10');
    const { events, states } = randomForks(roomVersion, prng(7), {
      members: 30,
      forks: 3,
      changes: 8,
    });
    const log: FetchLog = { calls: [] };
    await resolveState(roomVersion, states, fetcherOf(events.values(), { log }));
    const requested = log.calls.flat();
    expect(new Set(requested).size).toBe(requested.length);
    // The base chain is ~35 events deep, but one call covers every state event at once.
    expect(log.calls.length).toBeLessThan(40);
    expect(log.calls[0]?.length).toBeGreaterThan(30);
  });

  it(
    'resolves a two-way fork of a 5,000-member room with 10,000 state events, yielding as it goes',
    { timeout: 30_000 },
    async () => {
      for (const roomVersion of [requireRoomVersion('12')]) {
        const { events, states } = largeForkedRoom(roomVersion, {
          members: 5000,
          otherState: 5000,
          changesPerFork: 200,
        });
        const [forkA, forkB] = states as [Map<string, string>, Map<string, string>];
        expect(forkA.size).toBeGreaterThan(10_000);
        let ticks = 0;
        let running = true;
        const count = (): void => {
          ticks++;
          if (running) setImmediate(count);
        };
        setImmediate(count);
        const resolved = await resolveState(roomVersion, states, fetcherOf(events.values()));
        running = false;
        // Other tenants' work got turns while this ran.
        expect(ticks, `room version ${roomVersion.id}`).toBeGreaterThan(1);
        // Every change on either side was allowed: each key ends with one side's event.
        const keys = new Set([...forkA.keys(), ...forkB.keys()]);
        expect(resolved.size).toBe(keys.size);
        for (const [key, id] of resolved) expect([forkA.get(key), forkB.get(key)]).toContain(id);
      }
    },
  );
});

describe('resolveState: order independence (property)', () => {
  const versions = ['1', '2', '6', '10', '11', '12'].map(requireRoomVersion);
  const CASES = 300;

  it(`resolves ${CASES} generated forks to the same state whatever the order of states and fetch results`, async () => {
    const random = prng(20240611);
    const shuffle = shuffler(random);
    let conflictedCases = 0;
    // Conflicted keys that resolved to an event, by room version: the generated rooms must give
    // the auth rules something to allow, or the property says little.
    const settled = new Map<string, number>();
    for (let n = 0; n < CASES; n++) {
      const roomVersion = versions[n % versions.length] as RoomVersion;
      const { events, states } = randomForks(roomVersion, random, {
        members: 3 + Math.floor(random() * 6),
        forks: 2 + Math.floor(random() * 3),
        changes: 6,
      });
      const reference = await resolveState(roomVersion, states, fetcherOf(events.values()));
      for (let round = 0; round < 2; round++) {
        const permuted = await resolveState(
          roomVersion,
          shuffle(states),
          fetcherOf(shuffle([...events.values()]), { shuffle }),
        );
        expect(permuted, `case ${n}, room version ${roomVersion.id}`).toEqual(reference);
      }

      // Every resolved entry is a room event at its own key (an older one from the auth chains
      // may come back), and entries all states agree on stay.
      const keys = new Set(states.flatMap((state) => [...state.keys()]));
      for (const [key, id] of reference) {
        const event = events.get(id);
        expect(event && stateKeyOf(event.type, event.stateKey ?? '')).toBe(key);
      }
      for (const key of keys) {
        const id = states[0]?.get(key);
        if (id !== undefined && states.every((state) => state.get(key) === id)) {
          expect(reference.get(key)).toBe(id);
        } else {
          conflictedCases++;
          if (reference.has(key))
            settled.set(roomVersion.id, (settled.get(roomVersion.id) ?? 0) + 1);
        }
      }
    }
    expect(conflictedCases).toBeGreaterThan(CASES);
    for (const roomVersion of versions)
      expect(settled.get(roomVersion.id) ?? 0).toBeGreaterThan(CASES / 10);
  });
});
