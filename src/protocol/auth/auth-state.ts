/**
 * The state the authorization rules read: a lookup of state events by `(type, state_key)`.
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey } from '../room-event.js';

/**
 * The state an event is authorised against, keyed by `stateKeyOf(type, stateKey)`: either the
 * event's auth events or the room state before the event (or the current state, for soft
 * failure). A `Map<StateKey, RoomEvent>` satisfies it.
 *
 * It must hold the room's `m.room.create` event under `CREATE_KEY` in every room version. In
 * room versions where the room ID is the create event's hash (v12), the create event is not one
 * of the auth events: the caller looks it up by room ID (`'$' + roomId.slice(1)`), makes sure it
 * is known and was not rejected, and adds it (see `buildAuthState`).
 */
export interface AuthState {
  get(key: StateKey): RoomEvent | undefined;
}

export const CREATE_KEY: StateKey = stateKeyOf('m.room.create', '');
export const POWER_LEVELS_KEY: StateKey = stateKeyOf('m.room.power_levels', '');
export const JOIN_RULES_KEY: StateKey = stateKeyOf('m.room.join_rules', '');

export function memberKey(userId: string): StateKey {
  return stateKeyOf('m.room.member', userId);
}

/**
 * An `AuthState` from a list of events, e.g. an event's auth events plus, for v12 rooms, the
 * room's create event. Message events are skipped; a later event replaces an earlier one with
 * the same `(type, state_key)` (duplicates are `checkAuthEventsList`'s business).
 */
export function buildAuthState(events: Iterable<RoomEvent>): Map<StateKey, RoomEvent> {
  const state = new Map<StateKey, RoomEvent>();
  for (const event of events) {
    if (event.stateKey !== undefined) state.set(stateKeyOf(event.type, event.stateKey), event);
  }
  return state;
}

/** `content.membership` of a user's member event in `state`, if there is one and it is a string. */
export function membershipIn(state: AuthState, userId: string): string | undefined {
  const membership = ownValue(state.get(memberKey(userId))?.content, 'membership');
  return typeof membership === 'string' ? membership : undefined;
}

/** Own-property lookup, so keys such as `__proto__` or `constructor` never reach the prototype. */
export function ownValue(obj: JsonObject | undefined, key: string): JsonValue | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The server name of a user, room or event ID: everything after the first `:` (or undefined). */
export function domainOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}
