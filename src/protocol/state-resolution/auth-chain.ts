/**
 * Auth chains (rooms v2+ "Auth chain", "Auth difference"): the events reachable from an event by
 * following `auth_events`, and the events that are in some but not all of several states' chains.
 * Events `fetchEvents` does not return are missing: they and whatever only they lead to are left
 * out.
 */

import type { StateMap } from '../room-event.js';
import { EventCache, yieldToEventLoop } from './event-cache.js';
import type { FetchAuthEventIds, FetchEvents } from './event-cache.js';

export type { FetchAuthEventIds, FetchEvents } from './event-cache.js';

/** How the auth-chain functions read the graph besides `fetchEvents`. */
export interface AuthChainOptions {
  /** Walks the chains over auth event IDs alone: `fetchEvents` is then never called. */
  readonly fetchAuthEventIds?: FetchAuthEventIds;
}

/**
 * The union of the auth chains of `eventIds`: every known event reachable through one or more
 * `auth_events` links. A starting event is in the result only if another one leads to it.
 */
export async function authChain(
  eventIds: Iterable<string>,
  fetchEvents: FetchEvents,
  options: AuthChainOptions = {},
): Promise<Set<string>> {
  const cache = new EventCache(fetchEvents, options.fetchAuthEventIds);
  const starts = [...eventIds];
  await cache.loadAuthClosure(starts);
  return collectAuthChain(starts, cache);
}

/**
 * The auth difference of the states: with Cᵢ the full auth chain of state i (the union of the auth
 * chains of its events), ∪Cᵢ − ∩Cᵢ.
 */
export async function authChainDifference(
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
  options: AuthChainOptions = {},
): Promise<Set<string>> {
  const cache = new EventCache(fetchEvents, options.fetchAuthEventIds);
  const { inEvery, own } = partitionStateIds(stateSets);
  await cache.loadAuthClosure([...inEvery, ...own.flatMap((ids) => [...ids])]);
  return computeAuthDifference(inEvery, own, cache);
}

/** The event IDs every state holds, and each state's others. */
export function partitionStateIds(stateSets: readonly StateMap[]): {
  inEvery: Set<string>;
  own: Set<string>[];
} {
  const valueSets = stateSets.map((state) => new Set(state.values()));
  const inEvery = new Set<string>();
  const [first, ...rest] = valueSets;
  for (const id of first ?? []) {
    if (rest.every((ids) => ids.has(id))) inEvery.add(id);
  }
  const own = valueSets.map((ids) => {
    const mine = new Set<string>();
    for (const id of ids) if (!inEvery.has(id)) mine.add(id);
    return mine;
  });
  return { inEvery, own };
}

/**
 * The auth chain of `starts` from events already walked by `cache` (loaded, or their IDs). The walk does not enter `stopAt`
 * (nor add it): callers pass a set already known to be in the chain, with its own chain.
 */
export async function collectAuthChain(
  starts: Iterable<string>,
  cache: EventCache,
  stopAt?: ReadonlySet<string>,
): Promise<Set<string>> {
  const chain = new Set<string>();
  // The auth event lists still to follow; an event joins the chain as its list is queued.
  const stack: (readonly string[])[] = [];
  for (const id of starts) {
    const authIds = cache.authEventIdsOf(id);
    if (authIds !== undefined) stack.push(authIds);
  }
  for (let authIds = stack.pop(); authIds !== undefined; authIds = stack.pop()) {
    for (const id of authIds) {
      if (chain.has(id) || stopAt?.has(id)) continue;
      const next = cache.authEventIdsOf(id);
      if (next === undefined) continue;
      chain.add(id);
      stack.push(next);
    }
    if (cache.due(authIds.length)) await yieldToEventLoop();
  }
  return chain;
}

/**
 * ∪Cᵢ − ∩Cᵢ from events already walked by `cache`, for states holding all of `inEvery` and, each, its
 * `own` events. The chain of `inEvery` is in every Cᵢ, so it is walked once and each state's own
 * walk stops at it: for a fork of a large room the per-state walks cover only what the forks
 * changed.
 */
export async function computeAuthDifference(
  inEvery: Iterable<string>,
  own: readonly Iterable<string>[],
  cache: EventCache,
): Promise<Set<string>> {
  const difference = new Set<string>();
  if (own.length < 2) return difference;
  const common = await collectAuthChain(inEvery, cache);
  const counts = new Map<string, number>();
  for (const starts of own) {
    for (const id of await collectAuthChain(starts, cache, common)) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  for (const [id, count] of counts) {
    if (count < own.length) difference.add(id);
  }
  return difference;
}
