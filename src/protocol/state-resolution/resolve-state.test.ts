import { describe, expect, it } from 'vitest';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../room-event.js';
import { KNOWN_ROOM_VERSIONS, requireRoomVersion } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { resolveState } from './resolve-state.js';
import {
  ALICE,
  BOB,
  CHARLIE,
  EventGraph,
  authIdsFetcherOf,
  fetcherOf,
  largeForkedRoom,
  makeEvent,
  namedState,
  nodeOf,
  prng,
  randomForks,
  resolveBothWays,
  shuffler,
  stateMapOf,
} from './test-room.js';
import type { EventInit, FetchLog, NodeSpec } from './test-room.js';

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
    const resolved = namedState(
      await resolveBothWays(roomVersion, [withT1, other], [...graph.events.values(), broken]),
    );
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

  it('over auth event IDs: walks the chains in ID batches, fetching only the events it reads', async () => {
    for (const roomVersion of [requireRoomVersion('10'), requireRoomVersion('12')]) {
      const { events, states } = randomForks(roomVersion, prng(7), {
        members: 300,
        forks: 2,
        changes: 8,
      });
      const eventLog: FetchLog = { calls: [] };
      const idLog: FetchLog = { calls: [] };
      const resolved = await resolveState(
        roomVersion,
        states,
        fetcherOf(events.values(), { log: eventLog }),
        { fetchAuthEventIds: authIdsFetcherOf(events.values(), { log: idLog }) },
      );
      expect(resolved).toEqual(await resolveState(roomVersion, states, fetcherOf(events.values())));
      for (const log of [eventLog, idLog]) {
        const requested = log.calls.flat();
        expect(new Set(requested).size, `room version ${roomVersion.id}`).toBe(requested.length);
      }
      // Every state event's auth events are walked, by ID; only a few events are fetched.
      expect(idLog.calls.flat().length).toBeGreaterThan(300);
      expect(eventLog.calls.flat().length).toBeLessThan(60);
    }
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
        let fetched = 0;
        const fetchEvents = fetcherOf(events.values());
        const resolved = await resolveState(
          roomVersion,
          states,
          (ids) => {
            fetched += ids.length;
            return fetchEvents(ids);
          },
          { fetchAuthEventIds: authIdsFetcherOf(events.values()) },
        );
        running = false;
        // Walking over IDs, only the full conflicted set and what its checks read are fetched.
        expect(fetched).toBeLessThan(2_000);
        expect(resolved).toEqual(
          await resolveState(roomVersion, states, fetcherOf(events.values())),
        );
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

/**
 * Resolves over auth event IDs, with the states, their entries, the fetch results and each list
 * of auth event IDs in random order.
 */
function resolveOverIds(
  roomVersion: RoomVersion,
  states: readonly StateMap[],
  events: ReadonlyMap<string, RoomEvent>,
  shuffle: <T>(items: T[]) => T[],
): Promise<Map<StateKey, string>> {
  return resolveState(
    roomVersion,
    shuffle(states.map((state) => new Map(shuffle([...state])))),
    fetcherOf(shuffle([...events.values()]), { shuffle }),
    { fetchAuthEventIds: authIdsFetcherOf(shuffle([...events.values()]), { shuffle }) },
  );
}

describe('resolveState: order independence (property)', () => {
  const versions = ['1', '2', '6', '10', '11', '12'].map(requireRoomVersion);
  const CASES = 300;

  it(`resolves ${CASES} generated forks to the same state whatever the order of states and fetch results, with or without fetchAuthEventIds`, async () => {
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
        const overIds = await resolveOverIds(roomVersion, states, events, shuffle);
        expect(overIds, `case ${n}, room version ${roomVersion.id}, over IDs`).toEqual(reference);
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

describe('resolveState over auth event IDs (property)', () => {
  const versions = ['2', '6', '10', '11', '12'].map(requireRoomVersion);
  const CASES = 400;

  it(`resolves ${CASES} generated forks with history as it does fetching every event`, async () => {
    const random = prng(20261127);
    const shuffle = shuffler(random);
    let differentFromEveryState = 0;
    for (let n = 0; n < CASES; n++) {
      const roomVersion = versions[n % versions.length] as RoomVersion;
      // Forks from different points of a history: old events come into conflict, and the checks
      // read unconflicted events and power levels chains that no conflicted event cites.
      const { events, states } = randomForks(roomVersion, random, {
        members: 3 + Math.floor(random() * 5),
        forks: 2 + Math.floor(random() * 2),
        changes: 4,
        history: Math.floor(random() * 12),
      });
      const reference = await resolveState(roomVersion, states, fetcherOf(events.values()));
      const overIds = await resolveOverIds(roomVersion, states, events, shuffle);
      expect(overIds, `case ${n}, room version ${roomVersion.id}`).toEqual(reference);
      if (states.every((state) => !isEqualState(state, reference))) differentFromEveryState++;
    }
    // Most cases resolve to a state none of the forks had: the checks decided something.
    expect(differentFromEveryState).toBeGreaterThan(CASES / 2);
  });
});

function isEqualState(a: ReadonlyMap<StateKey, string>, b: ReadonlyMap<StateKey, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, id] of a) if (b.get(key) !== id) return false;
  return true;
}

describe('resolveState over auth event IDs: what the checks read beyond the conflicted events', () => {
  const V11 = requireRoomVersion('11');
  const V12 = requireRoomVersion('12');

  /** Events with the given auth events, plus the create event where the room version lists it. */
  function buildEvents(roomVersion: RoomVersion, inits: readonly EventInit[]): RoomEvent[] {
    return inits.map((init) => {
      const listsCreate = !roomVersion.roomIdFromCreateEvent && init.type !== 'm.room.create';
      const authEvents = [...(listsCreate ? ['CREATE'] : []), ...(init.authEvents ?? [])];
      return makeEvent(roomVersion, { ...init, authEvents });
    });
  }
  /** A state of the named events, the create event last: it is not what the walks meet first. */
  const stateOf = (events: readonly RoomEvent[], nodes: readonly string[]) =>
    stateMapOf(
      [...nodes, 'CREATE'].map(
        (node) => events.find((e) => nodeOf(e.eventId) === node) as RoomEvent,
      ),
    );
  const create: EventInit = {
    id: 'CREATE',
    sender: ALICE,
    type: 'm.room.create',
    stateKey: '',
    content: {},
  };
  const powerLevels = (
    roomVersion: RoomVersion,
    id: string,
    authEvents: string[],
    users: Record<string, number> = {},
  ): EventInit => ({
    id,
    sender: ALICE,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { ...(roomVersion.privilegedCreators ? {} : { [ALICE]: 100 }), ...users } },
    authEvents,
  });
  const topic = (id: string, sender: string, authEvents: string[], ts: number): EventInit => ({
    id,
    sender,
    type: 'm.room.topic',
    stateKey: '',
    content: { topic: id },
    authEvents,
    ts,
  });
  const member = (
    id: string,
    user: string,
    membership: string,
    authEvents: string[],
  ): EventInit => ({
    id,
    sender: user,
    type: 'm.room.member',
    stateKey: user,
    content: { membership },
    authEvents,
  });

  it('v2 checks a conflicted event against unconflicted events that none of them cites', async () => {
    // Charlie set the topic, then left. One state lacks the topic: it is the only conflict. v2
    // checks it against the unconflicted state, where Charlie has left (an event no conflicted
    // event cites): it is dropped. v2.1 checks it against its own auth events.
    for (const [roomVersion, expected] of [
      [V11, undefined],
      [V12, 'T0'],
    ] as const) {
      const events = buildEvents(roomVersion, [
        create,
        member('MA', ALICE, 'join', []),
        powerLevels(roomVersion, 'PL0', ['MA'], { [CHARLIE]: 50 }),
        {
          id: 'JR',
          sender: ALICE,
          type: 'm.room.join_rules',
          stateKey: '',
          content: { join_rule: 'public' },
          authEvents: ['PL0', 'MA'],
        },
        member('MC0', CHARLIE, 'join', ['PL0', 'JR']),
        topic('T0', CHARLIE, ['PL0', 'MC0'], 6),
        member('MC1', CHARLIE, 'leave', ['PL0', 'MC0']),
      ]);
      const shared = ['MA', 'PL0', 'JR', 'MC1'];
      const resolved = namedState(
        await resolveBothWays(
          roomVersion,
          [stateOf(events, [...shared, 'T0']), stateOf(events, shared)],
          events,
        ),
      );
      expect(resolved['m.room.topic/'], `room version ${roomVersion.id}`).toBe(expected);
      expect(resolved[`m.room.member/${CHARLIE}`]).toBe('MC1');
    }
  });

  it('mainline ordering follows power levels chains past the events the checks read', async () => {
    // PL0 → PL1 → PL2 → PL3 (unconflicted), and PLX off PL0 by Bob, who is not in the room (it
    // fails the checks). T0 cites PLX, so its chain meets the mainline at PL0; TN cites no power
    // levels: v2 checks TN first, then T0, whatever their timestamps. v2.1 has no resolved power
    // levels for mainline ordering (its checks start from an empty state): timestamps decide.
    for (const [roomVersion, expected] of [
      [V11, 'T0'],
      [V12, 'TN'],
    ] as const) {
      const events = buildEvents(roomVersion, [
        create,
        member('MA', ALICE, 'join', []),
        powerLevels(roomVersion, 'PL0', ['MA']),
        powerLevels(roomVersion, 'PL1', ['PL0', 'MA']),
        powerLevels(roomVersion, 'PL2', ['PL1', 'MA']),
        powerLevels(roomVersion, 'PL3', ['PL2', 'MA']),
        { ...powerLevels(roomVersion, 'PLX', ['PL0', 'MA']), sender: BOB },
        topic('T0', ALICE, ['PLX', 'MA'], 10),
        topic('TN', ALICE, ['MA'], 20),
      ]);
      const resolved = namedState(
        await resolveBothWays(
          roomVersion,
          [stateOf(events, ['MA', 'PL3', 'T0']), stateOf(events, ['MA', 'PL3', 'TN'])],
          events,
        ),
      );
      expect(resolved['m.room.topic/'], `room version ${roomVersion.id}`).toBe(expected);
      expect(resolved['m.room.power_levels/']).toBe('PL3');
    }
  });
});
