import { describe, expect, it } from 'vitest';
import type { RoomEvent } from '../room-event.js';
import { requireRoomVersion } from '../room-versions.js';
import type { StateMap } from '../room-event.js';
import {
  authChain as authChainOverEvents,
  authChainDifference as authChainDifferenceOverEvents,
} from './auth-chain.js';
import type { AuthChainOptions } from './auth-chain.js';
import type { FetchEvents } from './event-cache.js';
import {
  ALICE,
  authIdsFetcherOf,
  eventIdOf,
  fetcherOf,
  makeEvent,
  nodeOf,
  stateMapOf,
} from './test-room.js';
import type { FetchLog } from './test-room.js';

const V11 = requireRoomVersion('11');

/** Events named by node, each a state event of its own type, with the given auth events. */
function graphOf(authEdges: Record<string, string[]>): Map<string, RoomEvent> {
  const events = new Map<string, RoomEvent>();
  for (const [node, auth] of Object.entries(authEdges)) {
    events.set(
      node,
      makeEvent(V11, {
        id: node,
        sender: ALICE,
        type: `t.${node}`,
        stateKey: '',
        authEvents: auth,
      }),
    );
  }
  return events;
}

const nodes = (ids: Iterable<string>): string[] => [...ids].map(nodeOf).sort();
const ids = (...names: string[]): string[] => names.map(eventIdOf);

/**
 * The two functions, computed over full events and over auth event IDs alone (with the same
 * events behind both); each test expects both to give its answer.
 */
type Events = Map<string, RoomEvent>;
const eventsBehind = new WeakMap<FetchEvents, Events>();
function fetcherOver(events: Events, log?: FetchLog): FetchEvents {
  const fetch = fetcherOf(events.values(), { log });
  eventsBehind.set(fetch, events);
  return fetch;
}
async function both(
  compute: (fetch: FetchEvents, options: AuthChainOptions) => Promise<Set<string>>,
  fetch: FetchEvents,
): Promise<Set<string>> {
  const overEvents = await compute(fetch, {});
  const events = eventsBehind.get(fetch) ?? new Map<string, RoomEvent>();
  // Over IDs, no event is fetched at all.
  const refused: FetchEvents = () => Promise.reject(new Error('fetchEvents called'));
  const overIds = await compute(refused, {
    fetchAuthEventIds: authIdsFetcherOf(events.values()),
  });
  expect(nodes(overIds)).toEqual(nodes(overEvents));
  return overEvents;
}
const authChain = async (starts: string[], fetch: FetchEvents) =>
  both((f, options) => authChainOverEvents(starts, f, options), fetch);
const authChainDifference = async (states: StateMap[], fetch: FetchEvents) =>
  both((f, options) => authChainDifferenceOverEvents(states, f, options), fetch);

// D → C → B → A, E → C and E → B, F on its own.
const EDGES = { A: [], B: ['A'], C: ['B'], D: ['C'], E: ['C', 'B'], F: [] };

describe('authChain', () => {
  it('follows auth_events recursively, without the starting event', async () => {
    const fetch = fetcherOver(graphOf(EDGES));
    expect(nodes(await authChain(ids('D'), fetch))).toEqual(['A', 'B', 'C']);
    expect(nodes(await authChain(ids('A'), fetch))).toEqual([]);
    expect(nodes(await authChain(ids('E'), fetch))).toEqual(['A', 'B', 'C']);
  });

  it('is the union for several events, holding a starting event another one leads to', async () => {
    const fetch = fetcherOver(graphOf(EDGES));
    expect(nodes(await authChain(ids('D', 'F'), fetch))).toEqual(['A', 'B', 'C']);
    expect(nodes(await authChain(ids('D', 'B'), fetch))).toEqual(['A', 'B', 'C']);
  });

  it('skips events the fetcher does not know, and what only they lead to', async () => {
    const events = graphOf(EDGES);
    events.delete('C');
    const fetch = fetcherOver(events);
    expect(nodes(await authChain(ids('D'), fetch))).toEqual([]);
    expect(nodes(await authChain(ids('E'), fetch))).toEqual(['A', 'B']);
    expect(nodes(await authChain(ids('NOPE'), fetch))).toEqual([]);
  });

  it('fetches one batch per layer and never the same ID twice', async () => {
    const log: FetchLog = { calls: [] };
    const fetch = fetcherOver(graphOf(EDGES), log);
    await authChain(ids('D', 'E'), fetch);
    expect(log.calls.map((call) => nodes(call))).toEqual([['D', 'E'], ['B', 'C'], ['A']]);
  });

  it('over IDs too: one fetchAuthEventIds batch per layer, never the same ID twice', async () => {
    const log: FetchLog = { calls: [] };
    const fetchAuthEventIds = authIdsFetcherOf(graphOf(EDGES).values(), { log });
    await authChainOverEvents(ids('D', 'E'), fetcherOf([]), { fetchAuthEventIds });
    expect(log.calls.map((call) => nodes(call))).toEqual([['D', 'E'], ['B', 'C'], ['A']]);
  });

  it('terminates on a cycle (impossible in a valid room, possible in bad input)', async () => {
    const fetch = fetcherOver(graphOf({ A: ['B'], B: ['A'] }));
    expect(nodes(await authChain(ids('A'), fetch))).toEqual(['A', 'B']);
  });
});

describe('authChainDifference', () => {
  const events = graphOf(EDGES);
  const fetch = fetcherOver(events);
  const state = (...names: string[]) =>
    stateMapOf(names.map((name) => events.get(name) as RoomEvent));

  it('is the union of the full auth chains minus their intersection', async () => {
    // C₁ = chain(A) ∪ chain(B) = {A}; C₂ = chain(D) = {A, B, C}.
    expect(nodes(await authChainDifference([state('A', 'B'), state('D')], fetch))).toEqual([
      'B',
      'C',
    ]);
    // C₁ = chain(D) = {A, B, C}; C₂ = chain(E) = {A, B, C}.
    expect(nodes(await authChainDifference([state('D'), state('E')], fetch))).toEqual([]);
    // C₁ = {A, B, C}; C₂ = chain(B) = {A}; C₃ = {}.
    expect(nodes(await authChainDifference([state('D'), state('B'), state('F')], fetch))).toEqual([
      'A',
      'B',
      'C',
    ]);
  });

  it('is empty for identical states and for a single state', async () => {
    expect(nodes(await authChainDifference([state('D', 'F'), state('D', 'F')], fetch))).toEqual([]);
    expect(nodes(await authChainDifference([state('D')], fetch))).toEqual([]);
    expect(nodes(await authChainDifference([], fetch))).toEqual([]);
  });

  it('does not depend on the order of the states', async () => {
    const states = [state('A', 'B'), state('D'), state('E', 'F')];
    const forward = nodes(await authChainDifference(states, fetch));
    expect(nodes(await authChainDifference([...states].reverse(), fetch))).toEqual(forward);
    expect(forward).toEqual(['B', 'C']);
  });

  it('counts an event common to all states only through the chains that reach it', async () => {
    // B is in both states, but only the first state's C leads to it: chain(B) = {A} is in both
    // full chains, B itself only in the first.
    expect(nodes(await authChainDifference([state('B', 'C'), state('B')], fetch))).toEqual(['B']);
  });
});
