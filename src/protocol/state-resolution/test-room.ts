/**
 * Test support (not used by the server): a small DSL for event graphs. Events are named by node
 * IDs (`$NODE:example.com` as event ID), `edges` are chains of `prev_events` links, and a graph is
 * built the way homeserver test suites build theirs: nodes in topological order (ties by name),
 * timestamps counting up in that order, the state before a node with several prev events
 * resolved with `resolveState` (twice: with and without `fetchAuthEventIds`, which must agree),
 * and auth events selected from the state before the node. Also
 * generators: `randomForks` (seeded random forks, for properties) and `largeForkedRoom` (a big
 * room forked in two, for timing).
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { authEventKeysFor } from '../auth/auth-events-selection.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import type { FetchAuthEventIds, FetchEvents } from './event-cache.js';
import { lexicographicalTopologicalSort } from './ordering.js';
import { resolveState } from './resolve-state.js';

export const ALICE = '@alice:example.com';
export const BOB = '@bob:example.com';
export const CHARLIE = '@charlie:example.com';
export const EVELYN = '@evelyn:example.com';
export const ZARA = '@zara:example.com';

export interface NodeSpec {
  readonly id: string;
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string;
  readonly content?: JsonObject;
}

export interface EventInit extends NodeSpec {
  readonly authEvents?: readonly string[];
  readonly prevEvents?: readonly string[];
  readonly ts?: number;
  readonly depth?: number;
}

export function eventIdOf(node: string): string {
  return `$${node}:example.com`;
}

/** The room ID of test rooms; in v12 it names the create event, whose node must be `CREATE`. */
export function testRoomId(roomVersion: RoomVersion): string {
  return roomVersion.roomIdFromCreateEvent ? '!CREATE:example.com' : '!test:example.com';
}

/** An event with the given node names as auth and prev events, and a matching PDU. */
export function makeEvent(roomVersion: RoomVersion, init: EventInit): RoomEvent {
  const eventId = eventIdOf(init.id);
  const roomId = testRoomId(roomVersion);
  const authEventIds = (init.authEvents ?? []).map(eventIdOf);
  const prevEventIds = (init.prevEvents ?? []).map(eventIdOf);
  const content = init.content ?? {};
  const depth = init.depth ?? 0;
  const ts = init.ts ?? 0;
  const reference = (id: string) =>
    roomVersion.eventIdFormat === 'v1' ? [id, { sha256: 'AAAA' }] : id;
  const isV12Create = roomVersion.roomIdFromCreateEvent && init.type === 'm.room.create';
  const pdu: JsonObject = {
    ...(isV12Create ? {} : { room_id: roomId }),
    ...(roomVersion.eventIdFormat === 'v1' ? { event_id: eventId } : {}),
    type: init.type,
    ...(init.stateKey === undefined ? {} : { state_key: init.stateKey }),
    sender: init.sender,
    content,
    auth_events: authEventIds.map(reference),
    prev_events: prevEventIds.map(reference),
    depth,
    origin_server_ts: ts,
    hashes: { sha256: 'AAAA' },
    signatures: {},
  };
  return {
    eventId,
    roomId,
    type: init.type,
    stateKey: init.stateKey,
    sender: init.sender,
    content,
    prevEventIds,
    authEventIds,
    depth,
    originServerTs: ts,
    redacts: undefined,
    pdu,
  };
}

export interface FetchLog {
  readonly calls: (readonly string[])[];
}

/**
 * A `fetchEvents` over `events`: unknown IDs are left out; `shuffle`, if given, permutes the order
 * of each result map; `log` records every call.
 */
export function fetcherOf(
  events: Iterable<RoomEvent>,
  options: { shuffle?: <T>(items: T[]) => T[]; log?: FetchLog } = {},
): FetchEvents {
  const byId = new Map<string, RoomEvent>();
  for (const event of events) byId.set(event.eventId, event);
  return (ids) => {
    options.log?.calls.push([...ids]);
    let found: [string, RoomEvent][] = [];
    for (const id of ids) {
      const event = byId.get(id);
      if (event !== undefined) found.push([id, event]);
    }
    if (options.shuffle !== undefined) found = options.shuffle(found);
    return Promise.resolve(new Map(found));
  };
}

/**
 * A `fetchAuthEventIds` over `events`: unknown IDs are left out; `shuffle`, if given, permutes
 * the order of each result map and of each list of auth event IDs (a database keeps no order);
 * `log` records every call.
 */
export function authIdsFetcherOf(
  events: Iterable<RoomEvent>,
  options: { shuffle?: <T>(items: T[]) => T[]; log?: FetchLog } = {},
): FetchAuthEventIds {
  const byId = new Map<string, readonly string[]>();
  for (const event of events) byId.set(event.eventId, [...new Set(event.authEventIds)]);
  return (ids) => {
    options.log?.calls.push([...ids]);
    let found: [string, readonly string[]][] = [];
    for (const id of ids) {
      const authIds = byId.get(id);
      if (authIds === undefined) continue;
      found.push([id, options.shuffle === undefined ? authIds : options.shuffle([...authIds])]);
    }
    if (options.shuffle !== undefined) found = options.shuffle(found);
    return Promise.resolve(new Map(found));
  };
}

/**
 * Resolves the states over `events` twice, fetching every event of the auth chains and walking
 * them over IDs (`fetchAuthEventIds`); throws unless both give the same state, and returns it.
 */
export async function resolveBothWays(
  roomVersion: RoomVersion,
  stateSets: readonly StateMap[],
  events: Iterable<RoomEvent>,
): Promise<Map<StateKey, string>> {
  const all = [...events];
  const fetch = fetcherOf(all);
  const full = await resolveState(roomVersion, stateSets, fetch);
  const byIds = await resolveState(roomVersion, stateSets, fetch, {
    fetchAuthEventIds: authIdsFetcherOf(all),
  });
  const differing = [...new Set([...full.keys(), ...byIds.keys()])].filter(
    (key) => full.get(key) !== byIds.get(key),
  );
  if (differing.length > 0 || full.size !== byIds.size) {
    throw new Error(`resolving over IDs differs at ${differing.join(', ')}`);
  }
  return full;
}

export function stateMapOf(events: Iterable<RoomEvent>): Map<StateKey, string> {
  const state = new Map<StateKey, string>();
  for (const event of events) {
    if (event.stateKey !== undefined)
      state.set(stateKeyOf(event.type, event.stateKey), event.eventId);
  }
  return state;
}

/** The start of the classic scenarios: a public room with Alice (admin), Bob, Charlie and Zara. */
export const INITIAL_EVENTS: readonly NodeSpec[] = [
  { id: 'CREATE', sender: ALICE, type: 'm.room.create', stateKey: '', content: { creator: ALICE } },
  {
    id: 'IMA',
    sender: ALICE,
    type: 'm.room.member',
    stateKey: ALICE,
    content: { membership: 'join' },
  },
  {
    id: 'IPOWER',
    sender: ALICE,
    type: 'm.room.power_levels',
    stateKey: '',
    content: { users: { [ALICE]: 100 } },
  },
  {
    id: 'IJR',
    sender: ALICE,
    type: 'm.room.join_rules',
    stateKey: '',
    content: { join_rule: 'public' },
  },
  { id: 'IMB', sender: BOB, type: 'm.room.member', stateKey: BOB, content: { membership: 'join' } },
  {
    id: 'IMC',
    sender: CHARLIE,
    type: 'm.room.member',
    stateKey: CHARLIE,
    content: { membership: 'join' },
  },
  {
    id: 'IMZ',
    sender: ZARA,
    type: 'm.room.member',
    stateKey: ZARA,
    content: { membership: 'join' },
  },
  { id: 'START', sender: ZARA, type: 'm.room.message', content: {} },
  { id: 'END', sender: ZARA, type: 'm.room.message', content: {} },
];

/** `prev_events` chain of the initial events, newest first. */
export const INITIAL_EDGES: readonly string[] = [
  'START',
  'IMZ',
  'IMC',
  'IMB',
  'IJR',
  'IPOWER',
  'IMA',
  'CREATE',
];

export class EventGraph {
  readonly events = new Map<string, RoomEvent>();
  readonly #stateAfter = new Map<string, Map<StateKey, string>>();

  private constructor(readonly roomVersion: RoomVersion) {}

  /**
   * Builds `initial` plus `nodes` with the `prev_events` chains of `initialEdges` and `edges`
   * (`['A', 'B', 'C']` is A → B → C: B is a prev event of A).
   */
  static async build(
    roomVersion: RoomVersion,
    nodes: readonly NodeSpec[],
    edges: readonly (readonly string[])[],
    initial: readonly NodeSpec[] = INITIAL_EVENTS,
    initialEdges: readonly string[] = INITIAL_EDGES,
  ): Promise<EventGraph> {
    const graph = new EventGraph(roomVersion);
    const specs = new Map<string, NodeSpec>();
    const prevs = new Map<string, Set<string>>();
    for (const spec of [...initial, ...nodes]) {
      specs.set(spec.id, spec);
      prevs.set(spec.id, new Set());
    }
    for (const chain of [initialEdges, ...edges]) {
      for (let i = 0; i + 1 < chain.length; i++) {
        const from = prevs.get(chain[i] as string);
        if (from === undefined) throw new Error(`unknown node ${chain[i]}`);
        from.add(chain[i + 1] as string);
      }
    }
    const order = lexicographicalTopologicalSort(prevs, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let ts = 0;
    for (const node of order) {
      const spec = specs.get(node) as NodeSpec;
      const prevNodes = [...(prevs.get(node) ?? [])].sort();
      const prevStates = prevNodes.map((prev) => graph.stateAt(prev));
      let before: Map<StateKey, string>;
      if (prevStates.length === 0) before = new Map();
      else if (prevStates.length === 1) before = new Map(prevStates[0]);
      else before = await resolveBothWays(roomVersion, prevStates, graph.events.values());
      const authEvents = authEventKeysFor(
        { ...spec, stateKey: spec.stateKey, content: spec.content ?? {} },
        roomVersion,
      )
        .map((key) => before.get(key))
        .filter((id): id is string => id !== undefined);
      const depth = Math.max(-1, ...prevNodes.map((prev) => graph.event(prev).depth)) + 1;
      const event = makeEvent(roomVersion, {
        ...spec,
        ts: ts++,
        depth,
        prevEvents: prevNodes,
        authEvents: authEvents.map(nodeOf),
      });
      graph.events.set(event.eventId, event);
      const after = new Map(before);
      if (spec.stateKey !== undefined)
        after.set(stateKeyOf(spec.type, spec.stateKey), event.eventId);
      graph.#stateAfter.set(node, after);
    }
    return graph;
  }

  readonly fetch: FetchEvents = (ids) => {
    const found = new Map<string, RoomEvent>();
    for (const id of ids) {
      const event = this.events.get(id);
      if (event !== undefined) found.set(id, event);
    }
    return Promise.resolve(found);
  };

  readonly fetchAuthEventIds: FetchAuthEventIds = (ids) => {
    const found = new Map<string, readonly string[]>();
    for (const id of ids) {
      const event = this.events.get(id);
      if (event !== undefined) found.set(id, event.authEventIds);
    }
    return Promise.resolve(found);
  };

  event(node: string): RoomEvent {
    const event = this.events.get(eventIdOf(node));
    if (event === undefined) throw new Error(`unknown node ${node}`);
    return event;
  }

  /** The state after a node. */
  stateAt(node: string): Map<StateKey, string> {
    const state = this.#stateAfter.get(node);
    if (state === undefined) throw new Error(`no state for ${node}`);
    return state;
  }

  /** The state after a node as `type/state_key` → node name, for readable assertions. */
  namedState(node: string): Record<string, string> {
    return namedState(this.stateAt(node));
  }

  /** The keys the given nodes set, as `type/state_key` → node name. */
  named(nodes: readonly string[]): Record<string, string> {
    const named: Record<string, string> = {};
    for (const node of nodes) {
      const event = this.event(node);
      named[`${event.type}/${event.stateKey ?? ''}`] = node;
    }
    return named;
  }
}

/** A state as `type/state_key` → node name. */
export function namedState(state: ReadonlyMap<StateKey, string>): Record<string, string> {
  const named: Record<string, string> = {};
  for (const [key, id] of state) {
    const [type, stateKey] = JSON.parse(key) as [string, string];
    named[`${type}/${stateKey}`] = nodeOf(id);
  }
  return named;
}

/** The node name of a test event ID. */
export function nodeOf(eventId: string): string {
  return eventId.slice(1, eventId.indexOf(':'));
}

/** mulberry32: a small seeded PRNG, so that every run generates the same cases. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffler(random: () => number): <T>(items: T[]) => T[] {
  return <T>(items: T[]): T[] => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  };
}

/**
 * Builds events one at a time on top of a state, choosing auth events from it the way a server
 * does, and keeps the state after each event (whether or not the auth rules would allow it: state
 * resolution must cope with what other servers send).
 */
export class RoomBuilder {
  readonly events = new Map<string, RoomEvent>();
  #count = 0;

  constructor(
    readonly roomVersion: RoomVersion,
    readonly prefix = 'E',
  ) {}

  add(
    state: Map<StateKey, string>,
    spec: { sender: string; type: string; stateKey?: string; content?: JsonObject },
    prev: string[],
    ts: number,
  ): RoomEvent {
    // The v12 test room ID names the create event by this node.
    const number = this.#count++;
    const id = spec.type === 'm.room.create' ? 'CREATE' : `${this.prefix}${number}`;
    const content = spec.content ?? {};
    const keys = authEventKeysFor({ ...spec, stateKey: spec.stateKey, content }, this.roomVersion);
    const authEvents = keys
      .map((key) => state.get(key))
      .filter((e): e is string => e !== undefined);
    const event = makeEvent(this.roomVersion, {
      id,
      ...spec,
      content,
      authEvents: authEvents.map(nodeOf),
      prevEvents: prev.map(nodeOf),
      ts,
      depth: this.#count,
    });
    this.events.set(event.eventId, event);
    if (spec.stateKey !== undefined) state.set(stateKeyOf(spec.type, spec.stateKey), event.eventId);
    return event;
  }
}

export const user = (i: number) => `@u${i}:example.com`;

/**
 * A room with `members` joined users and `history` random state changes, then forks of random
 * state changes from a common tip. With `history`, each fork starts at a random point of it (the
 * last fork at its end): older events at keys changed later come into conflict.
 */
export function randomForks(
  roomVersion: RoomVersion,
  random: () => number,
  options: { members: number; forks: number; changes: number; history?: number },
): { events: Map<string, RoomEvent>; states: Map<StateKey, string>[] } {
  const builder = new RoomBuilder(roomVersion);
  const state = new Map<StateKey, string>();
  let ts = 0;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const users = Array.from({ length: options.members }, (_, i) => user(i));
  const creator = users[0] as string;
  const createContent: JsonObject = roomVersion.implicitRoomCreator
    ? { room_version: roomVersion.id }
    : { creator, room_version: roomVersion.id };
  let tip = builder.add(
    state,
    { sender: creator, type: 'm.room.create', stateKey: '', content: createContent },
    [],
    ts++,
  );
  tip = builder.add(
    state,
    { sender: creator, type: 'm.room.member', stateKey: creator, content: { membership: 'join' } },
    [tip.eventId],
    ts++,
  );
  const levels = (): JsonObject => {
    const map: JsonObject = {};
    for (const u of users.slice(1)) if (random() < 0.4) map[u] = pick([0, 25, 50, 75, 100]);
    if (!roomVersion.privilegedCreators) map[creator] = 100;
    return { users: map };
  };
  tip = builder.add(
    state,
    { sender: creator, type: 'm.room.power_levels', stateKey: '', content: levels() },
    [tip.eventId],
    ts++,
  );
  tip = builder.add(
    state,
    { sender: creator, type: 'm.room.join_rules', stateKey: '', content: { join_rule: 'public' } },
    [tip.eventId],
    ts++,
  );
  for (const u of users.slice(1)) {
    tip = builder.add(
      state,
      { sender: u, type: 'm.room.member', stateKey: u, content: { membership: 'join' } },
      [tip.eventId],
      ts++,
    );
  }
  const randomChange = (tag: string) => {
    const sender = pick(users);
    const target = pick(users);
    const kind = random();
    return kind < 0.25
      ? { sender, type: 'm.room.topic', stateKey: '', content: { topic: `t${tag}` } }
      : kind < 0.45
        ? { sender, type: 'm.room.power_levels', stateKey: '', content: levels() }
        : kind < 0.8
          ? {
              sender,
              type: 'm.room.member',
              stateKey: target,
              content: { membership: pick(['join', 'leave', 'ban', 'invite']) },
            }
          : kind < 0.9
            ? {
                sender,
                type: 'm.room.join_rules',
                stateKey: '',
                content: { join_rule: pick(['public', 'invite']) },
              }
            : { sender, type: 'm.room.name', stateKey: '', content: { name: `n${tag}` } };
  };
  const points = [{ state: new Map(state), tip }];
  for (let h = 0; h < (options.history ?? 0); h++) {
    tip = builder.add(state, randomChange(`h${h}`), [tip.eventId], ts++);
    points.push({ state: new Map(state), tip });
  }
  const states: Map<StateKey, string>[] = [];
  for (let f = 0; f < options.forks; f++) {
    // Without history, no random draw: the forks of older seeds stay what they were.
    const atEnd = f === options.forks - 1 || points.length === 1;
    const point = points[atEnd ? points.length - 1 : Math.floor(random() * points.length)] as {
      state: Map<StateKey, string>;
      tip: RoomEvent;
    };
    const forkState = new Map(point.state);
    let forkTip = point.tip;
    // Forks interleave in time, and timestamps may tie.
    let forkTs = ts + Math.floor(random() * 3);
    const changes = 1 + Math.floor(random() * options.changes);
    for (let c = 0; c < changes; c++) {
      forkTip = builder.add(forkState, randomChange(`${f}.${c}`), [forkTip.eventId], forkTs);
      forkTs += Math.floor(random() * 3);
    }
    states.push(forkState);
  }
  return { events: builder.events, states };
}

/**
 * A large room forked in two, for timing: `members` joined users (a tenth of them with an older
 * leave and rejoin in their history), `otherState` further state events, and `changesPerFork`
 * state changes on each side (kicks by moderators, a power levels change, topics and leaves on
 * one side; joins, leaves, names and updates of the other state on the other).
 */
export function largeForkedRoom(
  roomVersion: RoomVersion,
  options: { members: number; otherState: number; changesPerFork: number },
): { events: Map<string, RoomEvent>; states: Map<StateKey, string>[] } {
  const builder = new RoomBuilder(roomVersion, 'L');
  const state = new Map<StateKey, string>();
  let ts = 0;
  const users = Array.from({ length: options.members }, (_, i) => user(i));
  const creator = users[0] as string;
  const moderators = users.slice(1, 21);
  const createContent: JsonObject = roomVersion.implicitRoomCreator
    ? { room_version: roomVersion.id }
    : { creator, room_version: roomVersion.id };
  const levels = (extra: Record<string, number> = {}): JsonObject => {
    const map: JsonObject = roomVersion.privilegedCreators ? {} : { [creator]: 100 };
    for (const moderator of moderators) map[moderator] = 50;
    return { users: { ...map, ...extra } };
  };
  const member = (sender: string, target: string, membership: string) => ({
    sender,
    type: 'm.room.member',
    stateKey: target,
    content: { membership },
  });
  let tip = builder.add(
    state,
    { sender: creator, type: 'm.room.create', stateKey: '', content: createContent },
    [],
    ts++,
  );
  const next = (spec: Parameters<RoomBuilder['add']>[1], into = state): void => {
    tip = builder.add(into, spec, [tip.eventId], ts++);
  };
  next(member(creator, creator, 'join'));
  next({ sender: creator, type: 'm.room.power_levels', stateKey: '', content: levels() });
  next({
    sender: creator,
    type: 'm.room.join_rules',
    stateKey: '',
    content: { join_rule: 'public' },
  });
  users.slice(1).forEach((u, i) => {
    next(member(u, u, 'join'));
    if (i % 10 === 0) {
      next(member(u, u, 'leave'));
      next(member(u, u, 'join'));
    }
  });
  for (let i = 0; i < options.otherState; i++) {
    next({ sender: creator, type: 'm.test.state', stateKey: `k${i}`, content: { i } });
  }
  const baseTip = tip;
  const baseTs = ts;
  const forkA = new Map(state);
  const forkB = new Map(state);
  tip = baseTip;
  for (let c = 0; c < options.changesPerFork; c++) {
    const target = users[100 + ((c * 7) % (options.members - 100))] as string;
    const moderator = moderators[c % moderators.length] as string;
    if (c === 0)
      next(
        {
          sender: creator,
          type: 'm.room.power_levels',
          stateKey: '',
          content: levels({ [target]: 10 }),
        },
        forkA,
      );
    else if (c % 3 === 0) next(member(moderator, target, 'leave'), forkA);
    else if (c % 3 === 1)
      next(
        { sender: moderator, type: 'm.room.topic', stateKey: '', content: { topic: `a${c}` } },
        forkA,
      );
    else next(member(target, target, 'leave'), forkA);
  }
  tip = baseTip;
  ts = baseTs;
  for (let c = 0; c < options.changesPerFork; c++) {
    const newcomer = `@new${c}:example.com`;
    const target = users[100 + ((c * 11) % (options.members - 100))] as string;
    if (c % 4 === 0) next(member(newcomer, newcomer, 'join'), forkB);
    else if (c % 4 === 1) next(member(target, target, 'leave'), forkB);
    else if (c % 4 === 2)
      next(
        { sender: creator, type: 'm.room.name', stateKey: '', content: { name: `b${c}` } },
        forkB,
      );
    else next({ sender: creator, type: 'm.test.state', stateKey: `k${c}`, content: { c } }, forkB);
  }
  return { events: builder.events, states: [forkA, forkB] };
}
