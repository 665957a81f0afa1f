/**
 * Event hashes and the identifiers derived from them (server-server API "Calculating the content
 * hash / reference hash for an event"; rooms: "Event IDs"; v12 room IDs).
 */

import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { decodeBase64, encodeBase64, encodeBase64Url } from '../core/base64.js';
import { canonicalJsonBytes } from '../core/canonical-json.js';
import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import { redactEvent } from './redaction.js';
import { getRoomVersion } from './room-versions.js';
import type { RoomVersion } from './room-versions.js';

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const LEGACY_EVENT_ID_LENGTH = 24;

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** SHA-256 of the full event without `unsigned`, `signatures` and `hashes`: covers the unredacted content. */
export function computeContentHash(event: JsonObject): Uint8Array {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...rest } = event;
  return sha256(canonicalJsonBytes(rest));
}

/** A copy of `event` with `hashes` set to `{ sha256: <content hash> }`. */
export function addContentHash(event: JsonObject): JsonObject {
  return { ...structuredClone(event), hashes: { sha256: encodeBase64(computeContentHash(event)) } };
}

/**
 * Whether `hashes.sha256` matches the event's content hash. `false` (never an exception) when it is
 * missing or malformed, or the event cannot be encoded; the spec then treats the event as redacted.
 */
export function checkContentHash(event: JsonObject): boolean {
  try {
    const hashes = event.hashes;
    if (!isObject(hashes)) return false;
    const claimed = Object.hasOwn(hashes, 'sha256') ? hashes.sha256 : undefined;
    if (typeof claimed !== 'string') return false;
    const expected = computeContentHash(event);
    const actual = decodeBase64(claimed);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}

/**
 * SHA-256 of the redacted event without `signatures` and `unsigned`. Pass the event in its
 * federation (PDU) form: for v3+ rooms that means without an `event_id` key.
 */
export function computeReferenceHash(event: JsonObject, roomVersion: RoomVersion): Uint8Array {
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = redactEvent(event, roomVersion);
  return sha256(canonicalJsonBytes(rest));
}

/**
 * The event's ID. Hash-based versions derive it from the reference hash (`$` + unpadded base64,
 * URL-safe from v4); in `'v1'`-format rooms the ID is chosen by its sender and carried in
 * `event_id`, which is returned (throws if absent; see `generateLegacyEventId`).
 */
export function computeEventId(event: JsonObject, roomVersion: RoomVersion): string {
  switch (roomVersion.eventIdFormat) {
    case 'v1': {
      const eventId = Object.hasOwn(event, 'event_id') ? event.event_id : undefined;
      if (typeof eventId !== 'string') {
        throw new TypeError(`room version ${roomVersion.id} events must carry an event_id`);
      }
      return eventId;
    }
    case 'v3':
      return `$${encodeBase64(computeReferenceHash(event, roomVersion))}`;
    case 'v4':
      return `$${encodeBase64Url(computeReferenceHash(event, roomVersion))}`;
  }
}

/** A new `$opaque:domain` event ID, for rooms whose events carry their own ID (v1–2). */
export function generateLegacyEventId(serverName: string): string {
  let opaque = '';
  for (let i = 0; i < LEGACY_EVENT_ID_LENGTH; i++) {
    opaque += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  }
  return `$${opaque}:${serverName}`;
}

/**
 * The room ID of a room whose ID derives from its create event (v12): the create event's ID with
 * `!` instead of `$`. The room version defaults to the create event's `content.room_version`;
 * throws if that version does not use create-event room IDs.
 */
export function computeV12RoomId(createEvent: JsonObject, roomVersion?: RoomVersion): string {
  const version = roomVersion ?? roomVersionOfCreateEvent(createEvent);
  if (!version.roomIdFromCreateEvent) {
    throw new TypeError(
      `room version ${version.id} does not derive room IDs from the create event`,
    );
  }
  if (createEvent.type !== 'm.room.create') {
    throw new TypeError('room IDs derive from m.room.create events only');
  }
  return `!${computeEventId(createEvent, version).slice(1)}`;
}

function roomVersionOfCreateEvent(createEvent: JsonObject): RoomVersion {
  const content = createEvent.content;
  const hasVersion = isObject(content) && Object.hasOwn(content, 'room_version');
  // m.room.create: room_version "Defaults to "1" if the key does not exist".
  const id = hasVersion ? content.room_version : '1';
  const version = typeof id === 'string' ? getRoomVersion(id) : undefined;
  if (version === undefined) throw new TypeError(`unknown room version ${JSON.stringify(id)}`);
  return version;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
