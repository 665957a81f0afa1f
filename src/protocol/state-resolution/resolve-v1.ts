/**
 * State resolution of room version 1 (rooms/v1 "State resolution"): conflicts are settled type by
 * type (power levels, join rules, members, then the rest) against the state resolved so far,
 * ordering competing events by `depth` and the SHA-1 of their event IDs.
 */

import { createHash } from 'node:crypto';
import { authEventKeysFor } from '../auth/auth-events-selection.js';
import { authorizeEvent } from '../auth/authorize-event.js';
import { parseStateKey, stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import { EventCache, yieldToEventLoop } from './event-cache.js';
import type { FetchEvents } from './event-cache.js';
import { POWER_LEVELS_KEY } from './event-roles.js';

type Phase = 'power_levels' | 'join_rules' | 'members' | 'others';

export async function resolveStateV1(
  roomVersion: RoomVersion,
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
): Promise<Map<StateKey, string>> {
  // A conflict is two different events at one key; a key some states lack is not one.
  const candidates = new Map<StateKey, Set<string>>();
  for (const state of stateSets) {
    for (const [key, id] of state) {
      let ids = candidates.get(key);
      if (ids === undefined) candidates.set(key, (ids = new Set()));
      ids.add(id);
    }
  }
  const resolved = new Map<StateKey, string>();
  const conflictedKeys: StateKey[] = [];
  for (const [key, ids] of candidates) {
    if (ids.size === 1) resolved.set(key, ids.values().next().value as string);
    else conflictedKeys.push(key);
  }
  if (conflictedKeys.length === 0) return resolved;

  const cache = new EventCache(fetchEvents);
  await cache.load([...new Set(stateSets.flatMap((state) => [...state.values()]))]);

  // Unknown events drop out of a conflict; one left over is no conflict any more.
  const conflicts = new Map<StateKey, RoomEvent[]>();
  for (const key of conflictedKeys) {
    const events: RoomEvent[] = [];
    for (const id of candidates.get(key) ?? []) {
      const event = cache.get(id);
      if (event !== undefined) events.push(event);
    }
    if (events.length > 1) conflicts.set(key, events);
    else if (events.length === 1) resolved.set(key, (events[0] as RoomEvent).eventId);
  }

  // Within a phase every key is settled against the state as the phase found it, so the order
  // of keys does not matter.
  for (const phase of ['power_levels', 'join_rules', 'members', 'others'] as const) {
    const settled = new Map<StateKey, string>();
    for (const [key, events] of conflicts) {
      if (phaseOf(key) !== phase) continue;
      const winner =
        phase === 'others'
          ? pickOtherEvent(events, resolved, cache, roomVersion)
          : replayAuthEvents(events, resolved, cache, roomVersion);
      settled.set(key, winner.eventId);
      if (cache.due(events.length)) await yieldToEventLoop();
    }
    for (const [key, id] of settled) resolved.set(key, id);
  }
  return resolved;
}

function phaseOf(key: StateKey): Phase {
  if (key === POWER_LEVELS_KEY) return 'power_levels';
  const { type } = parseStateKey(key);
  if (type === 'm.room.join_rules') return 'join_rules';
  if (type === 'm.room.member') return 'members';
  return 'others';
}

/**
 * Power levels, join rules and members: in ascending depth then descending SHA-1 of the event ID,
 * the first event is taken and each next one replaces it while the auth rules allow it in the
 * state so far; the first refusal ends the list.
 */
function replayAuthEvents(
  events: readonly RoomEvent[],
  resolved: ReadonlyMap<StateKey, string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): RoomEvent {
  const ordered = orderByDepthAndHash(events).reverse();
  let current = ordered[0] as RoomEvent;
  for (const event of ordered.slice(1)) {
    const overlay = new Map([[stateKeyOf(current.type, current.stateKey ?? ''), current]]);
    if (!isAllowed(event, resolved, overlay, cache, roomVersion)) return current;
    current = event;
  }
  return current;
}

/**
 * Other events: the one with the highest depth and lowest SHA-1 of its event ID that the auth
 * rules allow in the state so far; if none is, the last in that order (as other servers do).
 */
function pickOtherEvent(
  events: readonly RoomEvent[],
  resolved: ReadonlyMap<StateKey, string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): RoomEvent {
  const ordered = orderByDepthAndHash(events);
  const allowed = ordered.find((event) =>
    isAllowed(event, resolved, new Map(), cache, roomVersion),
  );
  return allowed ?? (ordered[ordered.length - 1] as RoomEvent);
}

/** Descending depth, then ascending hex SHA-1 of the event ID (UTF-8). */
export function orderByDepthAndHash(events: readonly RoomEvent[]): RoomEvent[] {
  const keyed = events.map((event) => ({ event, hash: sha1Hex(event.eventId) }));
  keyed.sort((a, b) => {
    if (a.event.depth !== b.event.depth) return b.event.depth - a.event.depth;
    return a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;
  });
  return keyed.map((entry) => entry.event);
}

function isAllowed(
  event: RoomEvent,
  resolved: ReadonlyMap<StateKey, string>,
  overlay: ReadonlyMap<StateKey, RoomEvent>,
  cache: EventCache,
  roomVersion: RoomVersion,
): boolean {
  const state = new Map<StateKey, RoomEvent>();
  for (const key of authEventKeysFor(event, roomVersion)) {
    const id = resolved.get(key);
    const authEvent = overlay.get(key) ?? (id === undefined ? undefined : cache.get(id));
    if (authEvent !== undefined) state.set(key, authEvent);
  }
  return authorizeEvent(event, state, roomVersion).allowed;
}

function sha1Hex(value: string): string {
  return createHash('sha1').update(value, 'utf8').digest('hex');
}
