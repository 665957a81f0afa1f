/**
 * Power levels as the auth rules and clients read them (client-server API `m.room.power_levels`;
 * server-server API "Definitions"; rooms/v1 "stringy" and "floaty" power levels; v10 integers
 * only; v12 infinitely powerful room creators).
 *
 * Reading is lazy: only the values a caller asks for are parsed, so authorizing an event costs a
 * few property lookups, whatever the size of the `users` map.
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import type { RoomEvent } from '../room-event.js';
import type { RoomVersion } from '../room-versions.js';
import { CREATE_KEY, POWER_LEVELS_KEY, isJsonObject, ownValue } from './auth-state.js';
import type { AuthState } from './auth-state.js';

/** The power level of v12 room creators: above any level an event can state. */
export const INFINITE_POWER_LEVEL = Number.POSITIVE_INFINITY;

/** The power level of the room creator in v1–11 rooms without an `m.room.power_levels` event. */
export const CREATOR_DEFAULT_POWER_LEVEL = 100;

/** The top-level integer properties of `m.room.power_levels` content, in the auth rules' order. */
export const NAMED_POWER_LEVELS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'redact',
  'kick',
  'invite',
] as const;
export type NamedPowerLevel = (typeof NAMED_POWER_LEVELS)[number];

// Defaults when the property (or the whole event) is missing: client-server API m.room.power_levels.
const NAMED_DEFAULTS: Readonly<Record<NamedPowerLevel, number>> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
};

/** `notifications.room` defaults to 50; the spec defines no other key, so they get 50 too. */
const NOTIFICATION_DEFAULT = 50;

// rooms/v1 "stringy" power levels: base 10 digits with optional leading zeroes, one optional sign,
// and any whitespace around them.
const STRINGY_INTEGER = /^\s*[+-]?[0-9]+\s*$/;

/**
 * One power level value as a number, per room version, or `undefined` if it is not a valid
 * power level there:
 * - integers, in every version (within ±(2^53−1) where events are strict canonical JSON, v6+);
 * - floats, truncated towards zero, while events need not be canonical JSON (v1–5), except
 *   values that overflowed a double (`Infinity`);
 * - strings holding an integer, until power levels must be integers (v1–9).
 */
export function parsePowerLevel(
  value: JsonValue | undefined,
  roomVersion: RoomVersion,
): number | undefined {
  if (typeof value === 'number') {
    if (roomVersion.strictCanonicalJson) return Number.isSafeInteger(value) ? value : undefined;
    return Number.isFinite(value) ? Math.trunc(value) : undefined;
  }
  if (typeof value === 'string' && !roomVersion.integerPowerLevels) {
    if (!STRINGY_INTEGER.test(value)) return undefined;
    const parsed = Number(value.trim());
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

/**
 * The room creators named by a create event: `content.creator` (v1–10), the `sender` (v11), or
 * the `sender` plus `content.additional_creators` (v12; non-string entries are skipped, a create
 * event with such entries is rejected by the auth rules anyway).
 */
export function roomCreators(createEvent: RoomEvent, roomVersion: RoomVersion): string[] {
  if (!roomVersion.implicitRoomCreator) {
    const creator = ownValue(createEvent.content, 'creator');
    return typeof creator === 'string' ? [creator] : [];
  }
  const creators = [createEvent.sender];
  if (roomVersion.privilegedCreators) {
    const additional = ownValue(createEvent.content, 'additional_creators');
    if (Array.isArray(additional)) {
      for (const user of additional) {
        if (typeof user === 'string' && !creators.includes(user)) creators.push(user);
      }
    }
  }
  return creators;
}

/**
 * The power levels of a room state: its `m.room.power_levels` event (if any) read with the
 * defaults and the creator rules of the room version. Build one per authorization and ask it
 * as many questions as needed.
 */
export class PowerLevels {
  private readonly content: JsonObject | undefined;

  constructor(
    /** The `m.room.power_levels` event, if the state has one. */
    readonly event: RoomEvent | undefined,
    /** The `m.room.create` event, if the state has one: it names the creators. */
    readonly createEvent: RoomEvent | undefined,
    readonly roomVersion: RoomVersion,
  ) {
    this.content = event?.content;
  }

  static fromState(state: AuthState, roomVersion: RoomVersion): PowerLevels {
    return new PowerLevels(state.get(POWER_LEVELS_KEY), state.get(CREATE_KEY), roomVersion);
  }

  /** Whether `userId` is a room creator with infinite power (v12+ only). */
  isPrivilegedCreator(userId: string): boolean {
    const create = this.createEvent;
    if (!this.roomVersion.privilegedCreators || create === undefined) return false;
    if (create.sender === userId) return true;
    const additional = ownValue(create.content, 'additional_creators');
    return Array.isArray(additional) && additional.includes(userId);
  }

  /**
   * A user's power level: infinite for v12 creators; otherwise `users[userId]`, else
   * `users_default`, else 0. Without a power levels event the v1–11 creator has 100.
   */
  userLevel(userId: string): number {
    if (this.isPrivilegedCreator(userId)) return INFINITE_POWER_LEVEL;
    const content = this.content;
    if (content === undefined) {
      if (this.roomVersion.privilegedCreators || this.createEvent === undefined) return 0;
      return this.isV1To11Creator(userId, this.createEvent) ? CREATOR_DEFAULT_POWER_LEVEL : 0;
    }
    const users = ownValue(content, 'users');
    if (isJsonObject(users) && Object.hasOwn(users, userId)) {
      const level = parsePowerLevel(users[userId], this.roomVersion);
      if (level !== undefined) return level;
    }
    return this.named('users_default');
  }

  /** A top-level level (`ban`, `kick`, `redact`, `invite`, `*_default`), or its default. */
  named(name: NamedPowerLevel): number {
    return this.explicit(this.content, name) ?? NAMED_DEFAULTS[name];
  }

  /** The *required power level* to send an event of this type (state or message event). */
  eventLevel(eventType: string, isState: boolean): number {
    const level = this.explicit(this.objectProperty('events'), eventType);
    if (level !== undefined) return level;
    return this.named(isState ? 'state_default' : 'events_default');
  }

  /** The level needed to trigger a notification of this kind (`room`: `@room` mentions). */
  notificationLevel(key: string): number {
    return this.explicit(this.objectProperty('notifications'), key) ?? NOTIFICATION_DEFAULT;
  }

  private objectProperty(name: string): JsonObject | undefined {
    const value = ownValue(this.content, name);
    return isJsonObject(value) ? value : undefined;
  }

  /** A value that is present and valid for the room version; invalid values read as absent. */
  private explicit(obj: JsonObject | undefined, key: string): number | undefined {
    const value = ownValue(obj, key);
    return value === undefined ? undefined : parsePowerLevel(value, this.roomVersion);
  }

  private isV1To11Creator(userId: string, create: RoomEvent): boolean {
    if (this.roomVersion.implicitRoomCreator) return create.sender === userId;
    return ownValue(create.content, 'creator') === userId;
  }
}

/** A user's power level in a room state (see `PowerLevels.userLevel`). */
export function userPowerLevel(userId: string, state: AuthState, roomVersion: RoomVersion): number {
  return PowerLevels.fromState(state, roomVersion).userLevel(userId);
}

/** The level required to send an event of this type in a room state (`events`, `*_default`). */
export function requiredPowerLevel(
  eventType: string,
  isState: boolean,
  state: AuthState,
  roomVersion: RoomVersion,
): number {
  return PowerLevels.fromState(state, roomVersion).eventLevel(eventType, isState);
}

/** A top-level level (`ban`, `kick`, `redact`, `invite`, `*_default`) in a room state. */
export function namedPowerLevel(
  name: NamedPowerLevel,
  state: AuthState,
  roomVersion: RoomVersion,
): number {
  return PowerLevels.fromState(state, roomVersion).named(name);
}
