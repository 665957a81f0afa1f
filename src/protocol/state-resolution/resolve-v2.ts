/**
 * State resolution v2 (rooms v2–11, rooms/fragments/v2-state-res) and its v2.1 variant (v12):
 * v2.1 starts the first iterative auth checks from an empty state map instead of the unconflicted
 * state, and adds the conflicted state subgraph to the full conflicted set.
 */

import { authEventKeysFor } from '../auth/auth-events-selection.js';
import { authorizeEvent } from '../auth/authorize-event.js';
import type { RoomEvent, StateKey, StateMap } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import { collectAuthChain, computeAuthDifference } from './auth-chain.js';
import { EventCache, yieldToEventLoop } from './event-cache.js';
import type { FetchAuthEventIds, FetchEvents } from './event-cache.js';
import {
  POWER_LEVELS_KEY,
  authEventIdsOf,
  authEventsByKey,
  impliedCreateEventId,
  isPowerEvent,
  isStateEvent,
  keyOf,
  powerLevelsAuthEvent,
  senderPowerLevel,
} from './event-roles.js';
import { compareEventIds, lexicographicalTopologicalSort } from './ordering.js';

/**
 * Resolves `stateSets` with state resolution v2, or v2.1 where the room version says so. With
 * `fetchAuthEventIds`, the auth chains of the states are walked over IDs alone, and full events
 * are fetched only for the full conflicted set, their auth events, the unconflicted state the
 * auth checks read and the power levels chains of mainline ordering; the result is the same.
 */
export async function resolveStateV2(
  roomVersion: RoomVersion,
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
  fetchAuthEventIds?: FetchAuthEventIds,
): Promise<Map<StateKey, string>> {
  const { unconflicted, conflicted, conflictedBySet } = splitConflicted(stateSets);
  if (conflicted.size === 0) return unconflicted;

  const cache = new EventCache(fetchEvents, fetchAuthEventIds);
  await cache.loadAuthClosure([...unconflicted.values(), ...conflicted]);
  await loadImpliedCreateEvents(unconflicted.values(), cache, roomVersion);

  // Full conflicted set; events nobody could fetch are left out. The unconflicted events are
  // exactly those every state holds.
  const full = await computeAuthDifference(unconflicted.values(), conflictedBySet, cache);
  const conflictedIds = new Set([...conflicted].filter((id) => cache.has(id)));
  for (const id of conflictedIds) full.add(id);
  if (roomVersion.stateResolution === 'v2.1') {
    for (const id of await conflictedSubgraph(conflictedIds, cache)) full.add(id);
  }
  await loadEventsToCheck(full, unconflicted, cache, roomVersion);

  // 1–2. Power events and the conflicted parts of their auth chains, in reverse topological power
  // ordering, applied over the unconflicted state (v2) or an empty state (v2.1).
  const sortedPowerEvents = await sortPowerEvents(full, cache, roomVersion);
  const resolved: Map<StateKey, string> =
    roomVersion.stateResolution === 'v2.1' ? new Map() : new Map(unconflicted);
  await iterativeAuthChecks(sortedPowerEvents, resolved, cache, roomVersion);

  // 3–4. The rest in mainline order of the power levels resolved so far.
  const powerSet = new Set(sortedPowerEvents);
  const remaining = [...full].filter((id) => !powerSet.has(id));
  const powerLevelsId = resolved.get(POWER_LEVELS_KEY);
  await loadPowerLevelsChains(
    powerLevelsId === undefined ? remaining : [powerLevelsId, ...remaining],
    cache,
  );
  const sortedRemaining = await mainlineSort(remaining, powerLevelsId, cache);
  await iterativeAuthChecks(sortedRemaining, resolved, cache, roomVersion);

  // 5. Unconflicted state wins over whatever the checks put at its keys.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}

/**
 * The unconflicted state map (keys with the same event in every state) and the conflicted state
 * set (every event at any other key; a key missing from some state is conflicted), with each
 * state's share of the latter.
 */
export function splitConflicted(stateSets: readonly StateMap[]): {
  unconflicted: Map<StateKey, string>;
  conflicted: Set<string>;
  conflictedBySet: Set<string>[];
} {
  const unconflicted = new Map<StateKey, string>();
  const conflictedBySet = stateSets.map(() => new Set<string>());
  const [first, ...rest] = stateSets;
  for (const [key, id] of first ?? []) {
    let agreed = true;
    for (const state of rest) {
      if (state.get(key) !== id) {
        agreed = false;
        break;
      }
    }
    if (agreed) unconflicted.set(key, id);
  }
  stateSets.forEach((state, i) => {
    const mine = conflictedBySet[i] as Set<string>;
    for (const [key, id] of state) if (!unconflicted.has(key)) mine.add(id);
  });
  const conflicted = new Set<string>();
  for (const ids of conflictedBySet) for (const id of ids) conflicted.add(id);
  return { unconflicted, conflicted, conflictedBySet };
}

/**
 * Walks to the create events that v12 events imply through their room ID rather than list: that
 * of the state's room (normally already found, being in the state).
 */
async function loadImpliedCreateEvents(
  ids: Iterable<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<void> {
  if (!roomVersion.roomIdFromCreateEvent) return;
  const createIds = new Set<string>();
  for (const id of ids) {
    if (!cache.has(id)) continue;
    await cache.loadFound([id]);
    const event = cache.get(id);
    if (event === undefined) continue;
    const createId = impliedCreateEventId(event, roomVersion);
    if (createId !== undefined) createIds.add(createId);
    break; // every event of one resolution is in the same room
  }
  await cache.loadAuthClosure(createIds);
}

/**
 * The conflicted state subgraph (v12): the events on some `auth_events` path from one conflicted
 * event to another, endpoints included. Those are the events below a conflicted event (in its
 * auth chain) that lead to a conflicted event, found by walking the reversed edges up from the
 * conflicted events within that chain.
 */
export async function conflictedSubgraph(
  conflicted: ReadonlySet<string>,
  cache: EventCache,
): Promise<Set<string>> {
  const below = await collectAuthChain(conflicted, cache);
  const citedBy = new Map<string, string[]>();
  for (const ids of [conflicted, below]) {
    for (const id of ids) {
      for (const authId of cache.authEventIdsOf(id) ?? []) {
        if (!below.has(authId) && !conflicted.has(authId)) continue;
        let citing = citedBy.get(authId);
        if (citing === undefined) citedBy.set(authId, (citing = []));
        citing.push(id);
      }
      if (cache.due()) await yieldToEventLoop();
    }
  }
  const subgraph = new Set(conflicted);
  const stack = [...conflicted];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    for (const citing of citedBy.get(id) ?? []) {
      if (subgraph.has(citing)) continue;
      subgraph.add(citing);
      stack.push(citing);
    }
  }
  return subgraph;
}

/**
 * Loads, in two batches, what steps 1–4 read besides the power levels chains: the events of the
 * full conflicted set, their auth events (with the implied create event), and, for v2, whose
 * checks start from the unconflicted state, its events at the keys the auth rules read for them.
 * Events the walks found are all loaded already without `fetchAuthEventIds`: this then loads
 * nothing.
 */
async function loadEventsToCheck(
  full: ReadonlySet<string>,
  unconflicted: ReadonlyMap<StateKey, string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<void> {
  await cache.loadFound(full);
  const needed = new Set<string>();
  for (const id of full) {
    const event = cache.get(id);
    if (event === undefined) continue;
    for (const authId of authEventIdsOf(event, roomVersion)) needed.add(authId);
    if (roomVersion.stateResolution === 'v2' && isStateEvent(event)) {
      for (const key of authEventKeysFor(event, roomVersion)) {
        const stateId = unconflicted.get(key);
        if (stateId !== undefined) needed.add(stateId);
      }
    }
    if (cache.due()) await yieldToEventLoop();
  }
  await cache.loadFound(needed);
}

/**
 * Loads the power levels chains mainline ordering walks: from each of `starts`, the power levels
 * event among its auth events, then that one's, and so on, a layer (the auth events of the
 * frontier) per batch.
 */
async function loadPowerLevelsChains(starts: Iterable<string>, cache: EventCache): Promise<void> {
  const seen = new Set<string>();
  let frontier = new Set(starts);
  while (frontier.size > 0) {
    await cache.loadFound(frontier);
    const authIds: string[] = [];
    for (const id of frontier) {
      seen.add(id);
      for (const authId of cache.get(id)?.authEventIds ?? []) authIds.push(authId);
    }
    await cache.loadFound(authIds);
    const next = new Set<string>();
    for (const id of frontier) {
      const event = cache.get(id);
      const powerLevels = event === undefined ? undefined : powerLevelsAuthEvent(event, cache);
      if (powerLevels !== undefined && !seen.has(powerLevels.eventId)) {
        next.add(powerLevels.eventId);
      }
      if (cache.due()) await yieldToEventLoop();
    }
    frontier = next;
  }
}

/**
 * Step 1: the power events of the full conflicted set with the events of their auth chains that
 * are in it too, in reverse topological power ordering (Kahn's algorithm over auth events; ready
 * events by sender power level descending, then `origin_server_ts`, then event ID). Like other
 * servers, the walk down an auth chain goes only through events of the full conflicted set.
 */
export async function sortPowerEvents(
  full: ReadonlySet<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<string[]> {
  const graph = new Map<string, string[]>();
  const stack: string[] = [];
  for (const id of full) {
    const event = cache.get(id);
    if (event !== undefined && isPowerEvent(event)) stack.push(id);
  }
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const event = cache.get(id);
    if (graph.has(id) || event === undefined) continue;
    const edges = authEventIdsOf(event, roomVersion).filter((authId) => full.has(authId));
    graph.set(id, edges);
    for (const authId of edges) if (!graph.has(authId)) stack.push(authId);
    if (cache.due()) await yieldToEventLoop();
  }

  // Each sender's power level once per event, not once per comparison.
  const keys = new Map<string, { level: number; ts: number }>();
  for (const id of graph.keys()) {
    const event = cache.get(id) as RoomEvent;
    keys.set(id, { level: senderPowerLevel(event, cache, roomVersion), ts: event.originServerTs });
    if (cache.due()) await yieldToEventLoop();
  }
  return lexicographicalTopologicalSort(graph, (a, b) => {
    const x = keys.get(a) as { level: number; ts: number };
    const y = keys.get(b) as { level: number; ts: number };
    if (x.level !== y.level) return x.level > y.level ? -1 : 1;
    if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
    return compareEventIds(a, b);
  });
}

/**
 * Iterative auth checks: each event in turn is checked against the state resolved so far at the
 * keys the auth rules read for it (auth events selection), falling back to its own auth events
 * for keys that state lacks; events that pass are applied, the others dropped.
 */
export async function iterativeAuthChecks(
  ids: readonly string[],
  resolved: Map<StateKey, string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<void> {
  for (const id of ids) {
    const event = cache.get(id);
    if (event === undefined || !isStateEvent(event)) continue;
    const authState = authEventsByKey(event, cache, roomVersion);
    for (const key of authEventKeysFor(event, roomVersion)) {
      const resolvedId = resolved.get(key);
      const resolvedEvent = resolvedId === undefined ? undefined : cache.get(resolvedId);
      if (resolvedEvent !== undefined) authState.set(key, resolvedEvent);
    }
    if (authorizeEvent(event, authState, roomVersion).allowed) resolved.set(keyOf(event), id);
    if (cache.due(4)) await yieldToEventLoop();
  }
}

/**
 * Steps 3: mainline ordering based on the power levels event `powerLevelsId`: events whose power
 * levels chain meets the mainline further back come first (never: first of all), then
 * `origin_server_ts`, then event ID.
 */
export async function mainlineSort(
  ids: readonly string[],
  powerLevelsId: string | undefined,
  cache: EventCache,
): Promise<string[]> {
  const mainline = new Map<string, number>();
  let current = powerLevelsId === undefined ? undefined : cache.get(powerLevelsId);
  while (current !== undefined && !mainline.has(current.eventId)) {
    mainline.set(current.eventId, mainline.size);
    current = powerLevelsAuthEvent(current, cache);
  }

  // Where the walk from a power levels event off the mainline meets it: many events share them.
  const met = new Map<string, number>();
  const positionOf = (event: RoomEvent): number => {
    const path = new Set<string>();
    let position = Number.POSITIVE_INFINITY;
    for (let pl = powerLevelsAuthEvent(event, cache); pl !== undefined;) {
      const found = mainline.get(pl.eventId) ?? met.get(pl.eventId);
      if (found !== undefined) {
        position = found;
        break;
      }
      if (path.has(pl.eventId)) break; // a cycle: only a broken graph has one
      path.add(pl.eventId);
      pl = powerLevelsAuthEvent(pl, cache);
    }
    for (const id of path) met.set(id, position);
    return position;
  };

  const keyed: { id: string; position: number; ts: number }[] = [];
  for (const id of ids) {
    const event = cache.get(id);
    if (event === undefined) continue;
    keyed.push({ id, position: positionOf(event), ts: event.originServerTs });
    if (cache.due()) await yieldToEventLoop();
  }
  keyed.sort((a, b) => {
    if (a.position !== b.position) return a.position > b.position ? -1 : 1;
    if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
    return compareEventIds(a.id, b.id);
  });
  return keyed.map((entry) => entry.id);
}
