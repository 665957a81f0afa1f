import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../room-event.js';
import { requireRoomVersion } from '../room-versions.js';
import type { RoomVersion } from '../room-versions.js';
import { EventCache } from './event-cache.js';
import { conflictedSubgraph, splitConflicted } from './resolve-v2.js';
import {
  ALICE,
  BOB,
  CHARLIE,
  EventGraph,
  ZARA,
  authIdsFetcherOf,
  eventIdOf,
  fetcherOf,
  makeEvent,
  namedState,
  nodeOf,
  resolveBothWays,
  stateMapOf,
} from './test-room.js';
import type { EventInit, NodeSpec } from './test-room.js';

// State resolution v2.1 (room version 12): iterative auth checks start from an empty state, the
// full conflicted set includes the conflicted state subgraph, and creators (the create event's
// sender and additional_creators) have infinite power. Each scenario is checked on v12 and, where
// it shows a difference, against the same graph on v11.

const V11 = requireRoomVersion('11');
const V12 = requireRoomVersion('12');

function join(id: string, user: string): NodeSpec {
  return {
    id,
    sender: user,
    type: 'm.room.member',
    stateKey: user,
    content: { membership: 'join' },
  };
}

/** The initial room of the classic scenarios, with v12 creators kept out of `users`. */
function initialV12(users: Record<string, number>, additionalCreators: string[] = []): NodeSpec[] {
  return [
    {
      id: 'CREATE',
      sender: ALICE,
      type: 'm.room.create',
      stateKey: '',
      content: { room_version: '12', additional_creators: additionalCreators },
    },
    join('IMA', ALICE),
    { id: 'IPOWER', sender: ALICE, type: 'm.room.power_levels', stateKey: '', content: { users } },
    {
      id: 'IJR',
      sender: ALICE,
      type: 'm.room.join_rules',
      stateKey: '',
      content: { join_rule: 'public' },
    },
    join('IMB', BOB),
    join('IMC', CHARLIE),
    join('IMZ', ZARA),
    { id: 'START', sender: ZARA, type: 'm.room.message', content: {} },
    { id: 'END', sender: ZARA, type: 'm.room.message', content: {} },
  ];
}

const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

async function endState(
  roomVersion: RoomVersion,
  initial: NodeSpec[],
  nodes: NodeSpec[],
  edges: string[][],
): Promise<{ graph: EventGraph; end: Record<string, string>; start: Record<string, string> }> {
  const graph = await EventGraph.build(roomVersion, nodes, edges, initial, INITIAL_EDGES);
  return { graph, end: graph.namedState('END'), start: graph.namedState('START') };
}

describe('state resolution v2.1: the classic scenarios with v12 creators', () => {
  const pl = (id: string, sender: string, users: Record<string, number>, extra = {}): NodeSpec => ({
    id,
    sender,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users, ...extra },
  });
  const topic = (id: string, sender: string): NodeSpec => ({
    id,
    sender,
    type: 'm.room.topic',
    stateKey: '',
    content: {},
  });
  const member = (id: string, sender: string, target: string, membership: string): NodeSpec => ({
    id,
    sender,
    type: 'm.room.member',
    stateKey: target,
    content: { membership },
  });
  const cases: { name: string; nodes: NodeSpec[]; edges: string[][]; changed: string[] }[] = [
    {
      name: 'ban vs power levels',
      nodes: [
        pl('PA', ALICE, { [BOB]: 50 }),
        join('MA', ALICE),
        member('MB', ALICE, BOB, 'ban'),
        pl('PB', BOB, { [BOB]: 50 }),
      ],
      edges: [
        ['END', 'MB', 'MA', 'PA', 'START'],
        ['END', 'PB', 'PA'],
      ],
      changed: ['PA', 'MA', 'MB'],
    },
    {
      name: 'offtopic power levels',
      nodes: [
        pl('PA', ALICE, { [BOB]: 50 }),
        pl('PB', BOB, { [BOB]: 50, [CHARLIE]: 50 }),
        pl('PC', CHARLIE, { [BOB]: 50, [CHARLIE]: 0 }),
      ],
      edges: [
        ['END', 'PC', 'PB', 'PA', 'START'],
        ['END', 'PA'],
      ],
      changed: ['PC'],
    },
    {
      name: 'topic reset',
      nodes: [
        topic('T1', ALICE),
        pl('PA', ALICE, { [BOB]: 50 }),
        topic('T2', BOB),
        member('MB', ALICE, BOB, 'ban'),
      ],
      edges: [
        ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
        ['END', 'T1'],
      ],
      changed: ['T1', 'MB', 'PA'],
    },
    {
      name: 'mainline sort',
      nodes: [
        topic('T1', ALICE),
        pl('PA1', ALICE, { [BOB]: 50 }),
        topic('T2', ALICE),
        pl('PA2', ALICE, { [BOB]: 50 }, { events: { 'm.room.power_levels': 100 } }),
        pl('PB', BOB, { [BOB]: 50 }),
        topic('T3', BOB),
        topic('T4', ALICE),
      ],
      edges: [
        ['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'],
        ['END', 'T4', 'PB', 'PA1'],
      ],
      changed: ['T3', 'PA2'],
    },
  ];
  for (const { name, nodes, edges, changed } of cases) {
    it(name, async () => {
      const { graph, end, start } = await endState(V12, initialV12({}), nodes, edges);
      expect(end).toEqual({ ...start, ...graph.named(changed) });
    });
  }
});

describe('state resolution v2.1: room creators', () => {
  it('an additional creator cannot be kicked by an admin; on v11 the same kick stands', async () => {
    const nodes: NodeSpec[] = [
      {
        id: 'ZK',
        sender: BOB,
        type: 'm.room.member',
        stateKey: ZARA,
        content: { membership: 'leave' },
      },
      { id: 'TZ', sender: ZARA, type: 'm.room.topic', stateKey: '', content: { topic: 'mine' } },
    ];
    const edges = [
      ['END', 'ZK', 'START'],
      ['END', 'TZ', 'START'],
    ];
    const v12 = await endState(V12, initialV12({ [BOB]: 100 }, [ZARA]), nodes, edges);
    expect(v12.end).toEqual({ ...v12.start, ...v12.graph.named(['TZ']) });

    // v11 knows no additional creators: Zara is an ordinary user at 50, Bob's kick stands and
    // her topic, now from outside the room, is dropped.
    const initialV11 = initialV12({}, [ZARA]).map((spec) =>
      spec.id === 'IPOWER'
        ? { ...spec, content: { users: { [ALICE]: 100, [BOB]: 100, [ZARA]: 50 } } }
        : spec,
    );
    const v11 = await endState(V11, initialV11, nodes, edges);
    expect(v11.end).toEqual({ ...v11.start, ...v11.graph.named(['ZK']) });
  });

  it("an additional creator's ban is ordered before an earlier admin power change", async () => {
    // PB is sent first, but Zara (a creator, in no users map) outranks Bob (100): the ban is
    // applied first and Bob, banned, can no longer change the power levels.
    const nodes: NodeSpec[] = [
      {
        id: 'PB',
        sender: BOB,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { users: { [BOB]: 100, [CHARLIE]: 50 } },
      },
      {
        id: 'ZB',
        sender: ZARA,
        type: 'm.room.member',
        stateKey: BOB,
        content: { membership: 'ban' },
      },
    ];
    const edges = [
      ['END', 'PB', 'START'],
      ['END', 'ZB', 'START'],
    ];
    const { graph, end, start } = await endState(
      V12,
      initialV12({ [BOB]: 100 }, [ZARA]),
      nodes,
      edges,
    );
    expect(graph.event('PB').originServerTs).toBeLessThan(graph.event('ZB').originServerTs);
    expect(end).toEqual({ ...start, ...graph.named(['ZB']) });
  });

  it('the create event named by the room ID authorises events that do not list it', async () => {
    const { graph, end } = await endState(
      V12,
      initialV12({ [BOB]: 50 }),
      [
        { id: 'T', sender: BOB, type: 'm.room.topic', stateKey: '', content: {} },
        join('MEV', '@evelyn:example.com'),
      ],
      [
        ['END', 'T', 'START'],
        ['END', 'MEV', 'START'],
      ],
    );
    expect(graph.event('T').authEventIds).not.toContain(eventIdOf('CREATE'));
    expect(end['m.room.topic/']).toBe('T');
    expect(end['m.room.member/@evelyn:example.com']).toBe('MEV');
  });
});

/**
 * Events of a hand-built graph: `auth` lists auth events by node; on versions before 12 the
 * create event is added to them, as those versions list it.
 */
function buildEvents(
  roomVersion: RoomVersion,
  inits: readonly EventInit[],
): Map<string, RoomEvent> {
  const events = new Map<string, RoomEvent>();
  for (const init of inits) {
    const listsCreate = !roomVersion.roomIdFromCreateEvent && init.type !== 'm.room.create';
    const authEvents = listsCreate
      ? ['CREATE', ...(init.authEvents ?? [])]
      : (init.authEvents ?? []);
    events.set(init.id, makeEvent(roomVersion, { ...init, authEvents }));
  }
  return events;
}

function stateOf(events: Map<string, RoomEvent>, nodes: readonly string[]): Map<string, string> {
  return stateMapOf(nodes.map((node) => events.get(node) as RoomEvent));
}

describe('state resolution v2.1: the problems it fixes (MSC4297)', () => {
  const createFor = (roomVersion: RoomVersion): EventInit => ({
    id: 'CREATE',
    sender: ALICE,
    type: 'm.room.create',
    stateKey: '',
    content: { room_version: roomVersion.id },
    ts: 1,
  });
  const aliceLevel = (roomVersion: RoomVersion): Record<string, number> =>
    roomVersion.privilegedCreators ? {} : { [ALICE]: 100 };

  /**
   * Problem A: both forks agree Alice left and that JR2 is the join rule, but one fork's state
   * (from a partial sync) still holds the older JR1. Replayed on top of the unconflicted state
   * (v2), Alice is no longer a member and both join rules fail; replayed from an empty state
   * (v2.1), each is checked against its own auth events and JR2 stands.
   */
  function problemA(roomVersion: RoomVersion): Map<string, RoomEvent> {
    return buildEvents(roomVersion, [
      createFor(roomVersion),
      { ...join('MA', ALICE), authEvents: [], ts: 2 },
      {
        id: 'PL',
        sender: ALICE,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { users: aliceLevel(roomVersion) },
        authEvents: ['MA'],
        ts: 3,
      },
      {
        id: 'JR1',
        sender: ALICE,
        type: 'm.room.join_rules',
        stateKey: '',
        content: { join_rule: 'public' },
        authEvents: ['PL', 'MA'],
        ts: 4,
      },
      { ...join('MB', BOB), authEvents: ['PL', 'JR1'], ts: 5 },
      {
        id: 'JR2',
        sender: ALICE,
        type: 'm.room.join_rules',
        stateKey: '',
        content: { join_rule: 'invite' },
        authEvents: ['PL', 'MA'],
        ts: 6,
      },
      {
        id: 'MAL',
        sender: ALICE,
        type: 'm.room.member',
        stateKey: ALICE,
        content: { membership: 'leave' },
        authEvents: ['PL', 'MA'],
        ts: 7,
      },
    ]);
  }

  it('problem A: v2 loses the join rules, v2.1 keeps the latest', async () => {
    for (const [roomVersion, joinRule] of [
      [V11, undefined],
      [V12, 'JR2'],
    ] as const) {
      const events = problemA(roomVersion);
      const states = [
        stateOf(events, ['CREATE', 'MAL', 'PL', 'JR2', 'MB']),
        stateOf(events, ['CREATE', 'MAL', 'PL', 'JR1', 'MB']),
      ];
      const resolved = namedState(await resolveBothWays(roomVersion, states, events.values()));
      expect(resolved, `room version ${roomVersion.id}`).toEqual({
        'm.room.create/': 'CREATE',
        [`m.room.member/${ALICE}`]: 'MAL',
        [`m.room.member/${BOB}`]: 'MB',
        'm.room.power_levels/': 'PL',
        ...(joinRule === undefined ? {} : { 'm.room.join_rules/': joinRule }),
      });
    }
  });

  /**
   * Problem B: Alice promotes Bob (PL1), Bob promotes Charlie (PL2), Charlie sets the topic. One
   * fork's state holds PL2; the other, from a partial sync, the older PL0 but also Charlie's
   * topic. PL1 is in both forks' auth chains, so not in the auth difference: v2 replays PL2 on
   * PL0, where Bob has no power, and the room resets to PL0. The conflicted state subgraph
   * (topic → PL2 → PL1 → PL0) brings PL1 back in v2.1.
   */
  function problemB(roomVersion: RoomVersion): Map<string, RoomEvent> {
    return buildEvents(roomVersion, [
      createFor(roomVersion),
      { ...join('MA', ALICE), authEvents: [], ts: 2 },
      {
        id: 'PL0',
        sender: ALICE,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { users: aliceLevel(roomVersion) },
        authEvents: ['MA'],
        ts: 3,
      },
      {
        id: 'JR',
        sender: ALICE,
        type: 'm.room.join_rules',
        stateKey: '',
        content: { join_rule: 'public' },
        authEvents: ['PL0', 'MA'],
        ts: 4,
      },
      { ...join('MB', BOB), authEvents: ['PL0', 'JR'], ts: 5 },
      { ...join('MC', CHARLIE), authEvents: ['PL0', 'JR'], ts: 6 },
      {
        id: 'PL1',
        sender: ALICE,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { users: { ...aliceLevel(roomVersion), [BOB]: 50 } },
        authEvents: ['PL0', 'MA'],
        ts: 7,
      },
      {
        id: 'PL2',
        sender: BOB,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { users: { ...aliceLevel(roomVersion), [BOB]: 50, [CHARLIE]: 50 } },
        authEvents: ['PL1', 'MB'],
        ts: 8,
      },
      {
        id: 'T',
        sender: CHARLIE,
        type: 'm.room.topic',
        stateKey: '',
        content: { topic: 'hi' },
        authEvents: ['PL2', 'MC'],
        ts: 9,
      },
    ]);
  }

  it('problem B: v2 resets the power levels, v2.1 replays the promotions in between', async () => {
    for (const [roomVersion, expected] of [
      [V11, { 'm.room.power_levels/': 'PL0' }],
      [V12, { 'm.room.power_levels/': 'PL2', 'm.room.topic/': 'T' }],
    ] as const) {
      const events = problemB(roomVersion);
      const shared = ['CREATE', 'MA', 'JR', 'MB', 'MC'];
      const states = [
        stateOf(events, [...shared, 'PL2']),
        stateOf(events, [...shared, 'PL0', 'T']),
      ];
      const resolved = namedState(await resolveBothWays(roomVersion, states, events.values()));
      expect(resolved, `room version ${roomVersion.id}`).toEqual({
        'm.room.create/': 'CREATE',
        [`m.room.member/${ALICE}`]: 'MA',
        [`m.room.member/${BOB}`]: 'MB',
        [`m.room.member/${CHARLIE}`]: 'MC',
        'm.room.join_rules/': 'JR',
        ...expected,
      });
    }
  });

  it('problem B: the conflicted state subgraph is every path between conflicted events', async () => {
    const events = problemB(V12);
    const shared = ['CREATE', 'MA', 'JR', 'MB', 'MC'];
    const { conflicted } = splitConflicted([
      stateOf(events, [...shared, 'PL2']),
      stateOf(events, [...shared, 'PL0', 'T']),
    ]);
    expect([...conflicted].map(nodeOf).sort()).toEqual(['PL0', 'PL2', 'T']);
    // Over events and over auth event IDs alone.
    for (const cache of [
      new EventCache(fetcherOf(events.values())),
      new EventCache(fetcherOf([]), authIdsFetcherOf(events.values())),
    ]) {
      await cache.loadAuthClosure(conflicted);
      const subgraph = await conflictedSubgraph(conflicted, cache);
      // T → PL2 → PL1 → PL0, and the members and join rules between them: T → MC → JR → PL0,
      // PL2 → MB → PL0.
      expect([...subgraph].map(nodeOf).sort()).toEqual([
        'JR',
        'MB',
        'MC',
        'PL0',
        'PL1',
        'PL2',
        'T',
      ]);
    }
  });
});

describe('conflicted state subgraph', () => {
  // Auth edges (newest first): S → A → B → X, A → G, S → G, X → Y → Z; conflicted: S, X.
  const topic = (id: string, auth: string[]): EventInit => ({
    id,
    sender: ALICE,
    type: 'm.room.topic',
    stateKey: '',
    authEvents: auth,
  });
  const events = buildEvents(V12, [
    topic('Z', []),
    topic('Y', ['Z']),
    topic('X', ['Y']),
    topic('G', []),
    topic('B', ['X']),
    topic('A', ['B', 'G']),
    topic('S', ['A', 'G']),
    topic('LONE', ['Z']),
  ]);
  /** The subgraph, computed over events and over auth event IDs alone (which must agree). */
  const subgraphOf = async (nodes: string[]): Promise<string[]> => {
    const ids = new Set(nodes.map(eventIdOf));
    const results: string[][] = [];
    for (const cache of [
      new EventCache(fetcherOf(events.values())),
      new EventCache(fetcherOf([]), authIdsFetcherOf(events.values())),
    ]) {
      await cache.loadAuthClosure(ids);
      results.push([...(await conflictedSubgraph(ids, cache))].map(nodeOf).sort());
    }
    expect(results[1]).toEqual(results[0]);
    return results[0] as string[];
  };

  it('holds the paths between conflicted events, endpoints included, and nothing off them', async () => {
    expect(await subgraphOf(['S', 'X'])).toEqual(['A', 'B', 'S', 'X']);
  });

  it('is just the conflicted events when no path joins them', async () => {
    expect(await subgraphOf(['S', 'LONE'])).toEqual(['LONE', 'S']);
    expect(await subgraphOf(['X'])).toEqual(['X']);
  });

  it('follows every path: both branches of a diamond', async () => {
    expect(await subgraphOf(['S', 'Z'])).toEqual(['A', 'B', 'S', 'X', 'Y', 'Z']);
    expect(await subgraphOf(['S', 'G', 'Z'])).toEqual(['A', 'B', 'G', 'S', 'X', 'Y', 'Z']);
  });
});
