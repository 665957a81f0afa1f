/**
 * The power levels of a room upgrade (client-server API "Room Upgrades"; Synapse's
 * `clone_existing_room` and `_update_upgraded_room_pls`): the old room's levels carried into the
 * new room, and the old room's levels once it is shut down.
 *
 * Levels are read with the old room's rules and written as integers (rooms v10+ refuse strings
 * and floats). Room version 12 creators have infinite power and may not be listed in `users`:
 * upgrading to v12 drops the new creators from it; upgrading from v12 to an older version lists
 * the upgrading user at the highest level the levels name (at least 100), as the only creator
 * of the new room.
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { CREATOR_DEFAULT_POWER_LEVEL, parsePowerLevel } from '../../protocol/auth/power-levels.js';
import { NAMED_POWER_LEVELS } from '../../protocol/auth/power-levels.js';
import type { RoomVersion } from '../../protocol/room-versions.js';

/** The properties of `m.room.power_levels` that map keys to levels. */
const LEVEL_MAPS = ['users', 'events', 'notifications'] as const;

/** Synapse's "moderator": the level that sending and inviting need in an upgraded-away room. */
const RESTRICTED_LEVEL = 50;

/**
 * Power levels content with every level as an integer, read with `version`'s rules (stringy
 * and floaty levels of old rooms). Invalid levels are dropped: absent, they take their defaults.
 * Keys that are not levels are kept as they are.
 */
export function normalizePowerLevels(content: JsonObject, version: RoomVersion): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(content)) {
    if ((LEVEL_MAPS as readonly string[]).includes(key)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
      const map: JsonObject = {};
      for (const [entry, level] of Object.entries(value)) {
        const parsed = parsePowerLevel(level, version);
        if (parsed !== undefined) map[entry] = parsed;
      }
      result[key] = map;
    } else if ((NAMED_POWER_LEVELS as readonly string[]).includes(key)) {
      const parsed = parsePowerLevel(value, version);
      if (parsed !== undefined) result[key] = parsed;
    } else {
      result[key] = parsePowerLevel(value, version) ?? value;
    }
  }
  return result;
}

export interface UpgradedPowerLevelsInput {
  /** The old room's power levels content, normalized. */
  readonly levels: JsonObject;
  readonly oldVersion: RoomVersion;
  readonly newVersion: RoomVersion;
  /** The user upgrading the room: the new room's creator. */
  readonly upgrader: string;
  /** `additional_creators` of the new room (v12+ only). */
  readonly additionalCreators: readonly string[];
}

export interface UpgradedPowerLevels {
  /** The power levels the new room is created with. */
  readonly initial: JsonObject;
  /**
   * The levels to send once the state is copied, when `initial` had to raise the upgrader to
   * copy it (as Synapse does); undefined when `initial` is final.
   */
  readonly final?: JsonObject;
}

/** The new room's power levels (see the module comment). */
export function upgradedPowerLevels(input: UpgradedPowerLevelsInput): UpgradedPowerLevels {
  const { levels, oldVersion, newVersion, upgrader } = input;
  const users = { ...objectOf(levels.users) };
  const final: JsonObject = { ...levels, users };
  if (newVersion.privilegedCreators) {
    for (const creator of [upgrader, ...input.additionalCreators]) delete users[creator];
    return { initial: final };
  }
  if (oldVersion.privilegedCreators) {
    // The upgrader was (or acts as) a creator above every level: keep them at the top.
    users[upgrader] = Math.max(CREATOR_DEFAULT_POWER_LEVEL, highestLevel(final));
    return { initial: final };
  }
  // Copying the state needs the levels of every state event and of bans.
  const needed = Math.max(
    levelOf(levels.state_default, 50),
    levelOf(levels.ban, 50),
    ...Object.values(objectOf(levels.events)).map((level) => levelOf(level, 0)),
  );
  const current = levelOf(users[upgrader], levelOf(levels.users_default, 0));
  if (current >= needed) return { initial: final };
  return { initial: { ...final, users: { ...users, [upgrader]: needed } }, final };
}

/**
 * What changes in the old room's levels once it is upgraded away from: `events_default` and
 * `invite` raised to the greater of 50 and `users_default + 1` (the spec's suggestion, as
 * Synapse does). Only the changed properties; undefined when they are that high already.
 */
export function restrictedPowerLevels(levels: JsonObject): JsonObject | undefined {
  const restricted = Math.max(RESTRICTED_LEVEL, levelOf(levels.users_default, 0) + 1);
  const changes: JsonObject = {};
  for (const key of ['events_default', 'invite']) {
    if (levelOf(levels[key], 0) < restricted) changes[key] = restricted;
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/** A user's level in normalized levels. */
export function userLevelIn(levels: JsonObject, userId: string): number {
  return levelOf(objectOf(levels.users)[userId], levelOf(levels.users_default, 0));
}

/** The highest level normalized levels name anywhere. */
function highestLevel(levels: JsonObject): number {
  let highest = 0;
  for (const [key, value] of Object.entries(levels)) {
    if ((LEVEL_MAPS as readonly string[]).includes(key)) {
      for (const level of Object.values(objectOf(value)))
        highest = Math.max(highest, levelOf(level, 0));
    } else if ((NAMED_POWER_LEVELS as readonly string[]).includes(key)) {
      highest = Math.max(highest, levelOf(value, 0));
    }
  }
  return highest;
}

function objectOf(value: JsonValue | undefined): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

function levelOf(value: JsonValue | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : fallback;
}
