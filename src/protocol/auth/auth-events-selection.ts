/**
 * Auth events selection (server-server API "Auth events selection") and the auth rules on an
 * event's `auth_events` list (rooms/v1 rule 2, v12 rule 3).
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { stateKeyOf } from '../room-event.js';
import type { RoomEvent, StateKey } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import {
  CREATE_KEY,
  JOIN_RULES_KEY,
  POWER_LEVELS_KEY,
  isJsonObject,
  memberKey,
  ownValue,
} from './auth-state.js';
import type { AuthResult, AuthRule } from './authorize-event.js';

/** What auth events selection reads from an event. */
export interface AuthEventsSelectionInput {
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly sender: string;
  readonly content: JsonObject;
}

/**
 * The `(type, state_key)` pairs an event's `auth_events` should be taken from (each at most
 * once, the state holding at most one event per pair):
 * - nothing for `m.room.create`;
 * - the create event, except where the room ID names it (v12);
 * - the power levels, and the sender's member event;
 * - for `m.room.member`: the target's member event; the join rules if `membership` is `join`,
 *   `invite` or `knock`; for an invite with `third_party_invite`, the `m.room.third_party_invite`
 *   of `signed.token`; for a join with `join_authorised_via_users_server` (v8+), that user's
 *   member event.
 */
export function authEventKeysFor(
  event: AuthEventsSelectionInput,
  roomVersion: RoomVersion,
): StateKey[] {
  if (event.type === 'm.room.create') return [];
  const keys: StateKey[] = [];
  const add = (key: StateKey) => {
    if (!keys.includes(key)) keys.push(key);
  };
  if (!roomVersion.roomIdFromCreateEvent) add(CREATE_KEY);
  add(POWER_LEVELS_KEY);
  add(memberKey(event.sender));
  if (event.type === 'm.room.member' && event.stateKey !== undefined) {
    const membership = ownValue(event.content, 'membership');
    add(memberKey(event.stateKey));
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      add(JOIN_RULES_KEY);
    }
    if (membership === 'invite') {
      const invite = ownValue(event.content, 'third_party_invite');
      const signed = isJsonObject(invite) ? ownValue(invite, 'signed') : undefined;
      const token = isJsonObject(signed) ? ownValue(signed, 'token') : undefined;
      if (typeof token === 'string') add(stateKeyOf('m.room.third_party_invite', token));
    }
    if (membership === 'join' && roomVersion.restrictedJoinRule) {
      const authoriser = ownValue(event.content, 'join_authorised_via_users_server');
      if (typeof authoriser === 'string') add(memberKey(authoriser));
    }
  }
  return keys;
}

/**
 * The auth rules on the `auth_events` list of a received event (v1 2.1–2.5; v12 3.1–3.5), in
 * the spec's order. `authEvents` are the events the list names, all of them (the caller fetches
 * missing ones first); `isRejected` tells whether one of them was rejected. The create event
 * itself passes: the rules allow it before reading its auth events.
 *
 * The v12 rule that the room ID must name an accepted create event is `authorizeEvent`'s, given
 * the create event the caller found by room ID.
 */
export function checkAuthEventsList(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  roomVersion: RoomVersion,
  isRejected: (eventId: string) => boolean,
): AuthResult {
  if (event.type === 'm.room.create') return { allowed: true };

  // v1 2.1 "If there are duplicate entries for a given type and state_key pair, reject."
  const seen = new Set<StateKey>();
  for (const authEvent of authEvents) {
    if (authEvent.stateKey === undefined) continue; // not a pair at all: rule 2.2 rejects it
    const key = stateKeyOf(authEvent.type, authEvent.stateKey);
    if (seen.has(key)) {
      return deny(
        'auth_events.duplicate',
        `two auth events for ${authEvent.type}/${authEvent.stateKey}`,
      );
    }
    seen.add(key);
  }

  // v1 2.2 "If there are entries whose type and state_key don't match those specified by the
  // auth events selection algorithm described in the server specification, reject."
  // (v12: "m.room.create MUST NOT be selected".)
  const selected = authEventKeysFor(event, roomVersion);
  for (const authEvent of authEvents) {
    const stateKey = authEvent.stateKey;
    if (stateKey === undefined || !selected.includes(stateKeyOf(authEvent.type, stateKey))) {
      return deny(
        'auth_events.not_selected',
        `auth event ${authEvent.eventId} (${authEvent.type}/${stateKey ?? '-'}) is not one the event may cite`,
      );
    }
  }

  // v1 2.3 "If there are entries which were themselves rejected under the checks performed on
  // receipt of a PDU, reject."
  for (const authEvent of authEvents) {
    if (isRejected(authEvent.eventId)) {
      return deny('auth_events.rejected', `auth event ${authEvent.eventId} was rejected`);
    }
  }

  // v1 2.4 "If there is no m.room.create event among the entries, reject." (not in v12)
  if (!roomVersion.roomIdFromCreateEvent && !seen.has(CREATE_KEY)) {
    return deny('auth_events.missing_create', 'the auth events hold no create event');
  }

  // v1 2.5 "If any event in auth_events has a room_id which does not match that of the event
  // being authorised, reject."
  for (const authEvent of authEvents) {
    if (authEvent.roomId !== event.roomId) {
      return deny('auth_events.wrong_room', `auth event ${authEvent.eventId} is from another room`);
    }
  }
  return { allowed: true };
}

function deny(rule: Extract<AuthRule, `auth_events.${string}`>, reason: string): AuthResult {
  return { allowed: false, rule, reason };
}
