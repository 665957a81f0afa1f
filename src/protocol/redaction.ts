/**
 * The redaction algorithm (rooms/fragments/v*-redactions), driven by the room version's
 * `redactionRules`. Used for redacting events and, because signatures and event IDs cover the
 * redacted form, for signing and hashing.
 */

import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import type { RoomVersion } from './room-versions.js';

/**
 * Returns a redacted copy of `event` (the input is not modified). `content` is always present in
 * the result, empty unless the event type keeps some keys. `unsigned` is dropped, as the algorithm
 * says; callers serving redacted events to clients add their own `unsigned`.
 */
export function redactEvent(event: JsonObject, roomVersion: RoomVersion): JsonObject {
  const rules = roomVersion.redactionRules;
  const redacted: JsonObject = {};
  for (const key of rules.topLevelKeys) {
    if (key !== 'content' && Object.hasOwn(event, key)) {
      redacted[key] = structuredClone(event[key] as JsonValue);
    }
  }
  redacted.content = redactContent(event, roomVersion);
  return redacted;
}

function redactContent(event: JsonObject, roomVersion: RoomVersion): JsonObject {
  const rules = roomVersion.redactionRules;
  const content = Object.hasOwn(event, 'content') ? event.content : undefined;
  const type = Object.hasOwn(event, 'type') ? event.type : undefined;
  if (!isObject(content) || typeof type !== 'string') return {};

  const kept: JsonObject = {};
  const rule = Object.hasOwn(rules.contentKeys, type) ? rules.contentKeys[type] : undefined;
  if (rule === 'all') return structuredClone(content);
  for (const key of rule ?? []) {
    if (Object.hasOwn(content, key)) kept[key] = structuredClone(content[key] as JsonValue);
  }

  // v11+: a member event's third-party invite keeps only `signed`, which auth needs to re-check it.
  if (type === 'm.room.member' && rules.keepThirdPartyInviteSigned) {
    const invite = Object.hasOwn(content, 'third_party_invite')
      ? content.third_party_invite
      : undefined;
    if (isObject(invite)) {
      kept.third_party_invite = Object.hasOwn(invite, 'signed')
        ? { signed: structuredClone(invite.signed as JsonValue) }
        : {};
    }
  }
  return kept;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
