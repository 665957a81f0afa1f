/** What state resolution reads from single events: power events, auth events, sender power. */

import { PowerLevels } from '../auth/power-levels.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import type { EventCache } from './event-cache.js';

export const POWER_LEVELS_KEY: StateKey = stateKeyOf('m.room.power_levels', '');

export function isStateEvent(event: RoomEvent): event is RoomEvent & { stateKey: string } {
  return event.stateKey !== undefined;
}

export function keyOf(event: RoomEvent & { stateKey: string }): StateKey {
  return stateKeyOf(event.type, event.stateKey);
}

function isState(event: RoomEvent | undefined, type: string): boolean {
  return event !== undefined && event.type === type && event.stateKey === '';
}

/**
 * Power events (rooms v2 "Power events"): power levels, join rules, and kicks and bans of someone
 * else. The create event counts too, as other servers count it: were it ever conflicted, it must
 * be ordered before everything it authorises.
 */
export function isPowerEvent(event: RoomEvent): boolean {
  if (event.stateKey === undefined) return false;
  if (isState(event, 'm.room.power_levels') || isState(event, 'm.room.join_rules')) return true;
  if (isState(event, 'm.room.create')) return true;
  if (event.type !== 'm.room.member') return false;
  const membership = event.content.membership;
  return (membership === 'leave' || membership === 'ban') && event.sender !== event.stateKey;
}

/**
 * The create event an event's room ID stands for, where the room version derives room IDs from it
 * (v12): such events do not list it in `auth_events`, so state resolution adds it wherever it
 * reads an event's auth events.
 */
export function impliedCreateEventId(
  event: RoomEvent,
  roomVersion: RoomVersion,
): string | undefined {
  if (!roomVersion.roomIdFromCreateEvent || isState(event, 'm.room.create')) return undefined;
  return event.roomId.startsWith('!') ? `$${event.roomId.slice(1)}` : undefined;
}

/** An event's `auth_events`, with the implied create event (v12) in front. */
export function authEventIdsOf(event: RoomEvent, roomVersion: RoomVersion): readonly string[] {
  const implied = impliedCreateEventId(event, roomVersion);
  return implied === undefined ? event.authEventIds : [implied, ...event.authEventIds];
}

/** An event's known auth events by state key, with the implied create event (v12) added. */
export function authEventsByKey(
  event: RoomEvent,
  cache: EventCache,
  roomVersion: RoomVersion,
): Map<StateKey, RoomEvent> {
  const byKey = new Map<StateKey, RoomEvent>();
  for (const id of authEventIdsOf(event, roomVersion)) {
    const authEvent = cache.get(id);
    if (authEvent !== undefined && isStateEvent(authEvent)) byKey.set(keyOf(authEvent), authEvent);
  }
  return byKey;
}

/** The `m.room.power_levels` event among an event's auth events, if any. */
export function powerLevelsAuthEvent(event: RoomEvent, cache: EventCache): RoomEvent | undefined {
  for (const id of event.authEventIds) {
    const authEvent = cache.get(id);
    if (isState(authEvent, 'm.room.power_levels')) return authEvent;
  }
  return undefined;
}

function createAuthEvent(
  event: RoomEvent,
  cache: EventCache,
  roomVersion: RoomVersion,
): RoomEvent | undefined {
  const implied = impliedCreateEventId(event, roomVersion);
  if (implied !== undefined) return cache.get(implied);
  for (const id of event.authEventIds) {
    const authEvent = cache.get(id);
    if (isState(authEvent, 'm.room.create')) return authEvent;
  }
  return undefined;
}

/**
 * The sender's power level "when looking at their respective auth events", for the reverse
 * topological power ordering: the power levels and create events among the event's auth events
 * read as the auth rules read them (v12 creators above everyone; without power levels, 100 for
 * the v1–11 creator and 0 for everyone else).
 */
export function senderPowerLevel(
  event: RoomEvent,
  cache: EventCache,
  roomVersion: RoomVersion,
): number {
  const create = createAuthEvent(event, cache, roomVersion);
  const powerLevels = powerLevelsAuthEvent(event, cache);
  return new PowerLevels(powerLevels, create, roomVersion).userLevel(event.sender);
}
