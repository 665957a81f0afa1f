/**
 * Checks on the content of events clients send, before an event is built: the shapes the spec
 * gives the state events the server and clients rely on. A wrong shape is 400 (the auth rules
 * would accept some of them, and a room with a broken power levels event is hard to repair).
 */

import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { MatrixError, badJson, invalidParam } from '../../core/errors.js';
import { isValidRoomAlias, isValidUserId } from '../../core/identifiers.js';
import { NAMED_POWER_LEVELS } from '../../protocol/auth/power-levels.js';
import type { EventDraft } from './event-builder.js';

export const MEMBERSHIPS = ['join', 'invite', 'leave', 'ban', 'knock'] as const;
export const HISTORY_VISIBILITIES = ['world_readable', 'shared', 'invited', 'joined'] as const;

export interface ContentCheckContext {
  readonly roomId: string;
  /** The current `m.room.canonical_alias` content, whose aliases are not checked again. */
  readonly currentCanonicalAlias?: JsonObject;
  /** The room a local alias points to; undefined for unknown aliases and other servers' aliases. */
  resolveAlias(alias: string): Promise<string | undefined>;
}

/** Throws a 400 MatrixError when a client-sent event's content has the wrong shape. */
export async function checkEventContent(
  draft: EventDraft,
  context: ContentCheckContext,
): Promise<void> {
  if (draft.stateKey === undefined) return;
  const { content } = draft;
  switch (draft.type) {
    case 'm.room.power_levels':
      return checkPowerLevels(content);
    case 'm.room.member': {
      if (!isValidUserId(draft.stateKey)) {
        throw invalidParam('The state key of m.room.member must be a user ID');
      }
      const membership = content.membership;
      if (
        typeof membership !== 'string' ||
        !(MEMBERSHIPS as readonly string[]).includes(membership)
      ) {
        throw badJson(`membership must be one of ${MEMBERSHIPS.join(', ')}`);
      }
      return;
    }
    case 'm.room.name':
      return optionalString(content, 'name');
    case 'm.room.topic':
      return optionalString(content, 'topic');
    case 'm.room.join_rules':
      return requiredString(content, 'join_rule');
    case 'm.room.guest_access':
      return requiredString(content, 'guest_access');
    case 'm.room.encryption':
      return requiredString(content, 'algorithm');
    case 'm.room.history_visibility': {
      const value = content.history_visibility;
      if (
        typeof value !== 'string' ||
        !(HISTORY_VISIBILITIES as readonly string[]).includes(value)
      ) {
        throw badJson(`history_visibility must be one of ${HISTORY_VISIBILITIES.join(', ')}`);
      }
      return;
    }
    case 'm.room.canonical_alias':
      return checkCanonicalAlias(content, context);
  }
}

function checkPowerLevels(content: JsonObject): void {
  for (const name of NAMED_POWER_LEVELS) {
    if (Object.hasOwn(content, name) && !isInteger(content[name])) {
      throw badJson(`m.room.power_levels: ${name} must be an integer`);
    }
  }
  for (const field of ['events', 'notifications'] as const) {
    if (!Object.hasOwn(content, field)) continue;
    const map = content[field];
    if (!isObject(map) || !Object.values(map).every(isInteger)) {
      throw badJson(`m.room.power_levels: ${field} must map to integers`);
    }
  }
  if (Object.hasOwn(content, 'users')) {
    const users = content.users;
    if (!isObject(users)) throw badJson('m.room.power_levels: users must be an object');
    for (const [userId, level] of Object.entries(users)) {
      if (!isValidUserId(userId)) throw badJson(`m.room.power_levels: ${userId} is not a user ID`);
      if (!isInteger(level))
        throw badJson(`m.room.power_levels: the level of ${userId} must be an integer`);
    }
  }
}

async function checkCanonicalAlias(
  content: JsonObject,
  context: ContentCheckContext,
): Promise<void> {
  const aliases: string[] = [];
  if (Object.hasOwn(content, 'alias') && content.alias !== null) {
    if (typeof content.alias !== 'string') throw badJson('alias must be a string');
    aliases.push(content.alias);
  }
  if (Object.hasOwn(content, 'alt_aliases')) {
    const alt = content.alt_aliases;
    if (!Array.isArray(alt) || !alt.every((alias) => typeof alias === 'string')) {
      throw badJson('alt_aliases must be a list of strings');
    }
    aliases.push(...(alt as string[]));
  }
  const known = new Set(aliasesOf(context.currentCanonicalAlias));
  for (const alias of aliases) {
    if (known.has(alias)) continue;
    if (!isValidRoomAlias(alias)) throw invalidParam(`${alias} is not a valid room alias`);
    const roomId = await context.resolveAlias(alias);
    if (roomId !== context.roomId) {
      throw new MatrixError('M_BAD_ALIAS', `${alias} does not point to this room`);
    }
  }
}

function aliasesOf(content: JsonObject | undefined): string[] {
  if (content === undefined) return [];
  const aliases: string[] = [];
  if (typeof content.alias === 'string') aliases.push(content.alias);
  if (Array.isArray(content.alt_aliases)) {
    for (const alias of content.alt_aliases) if (typeof alias === 'string') aliases.push(alias);
  }
  return aliases;
}

/** A string, or absent or null (which unset it, like an empty string). */
function optionalString(content: JsonObject, field: string): void {
  const value = Object.hasOwn(content, field) ? content[field] : undefined;
  if (value !== undefined && value !== null && typeof value !== 'string') {
    throw badJson(`${field} must be a string`);
  }
}

function requiredString(content: JsonObject, field: string): void {
  if (typeof content[field] !== 'string') throw badJson(`${field} must be a string`);
}

function isInteger(value: JsonValue | undefined): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
