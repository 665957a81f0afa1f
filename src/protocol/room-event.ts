import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import { computeEventId, computeV12RoomId } from './event-hashing.js';
import type { RoomVersion } from './room-versions.js';

/**
 * A read-only view of a PDU in the terms auth rules and state resolution use, the same for every
 * room version: v1–2 `[event_id, hashes]` references become plain IDs, the event ID is computed for
 * v3+, `redacts` is read from where the version keeps it, and a v12 create event gets its room ID.
 */
export interface RoomEvent {
  readonly eventId: string;
  readonly roomId: string;
  readonly type: string;
  /** Undefined for message events; a string (possibly empty) for state events. */
  readonly stateKey: string | undefined;
  readonly sender: string;
  readonly content: JsonObject;
  readonly prevEventIds: readonly string[];
  readonly authEventIds: readonly string[];
  readonly depth: number;
  readonly originServerTs: number;
  readonly redacts: string | undefined;
  /** The PDU as received or built (federation form). */
  readonly pdu: JsonObject;
}

/** Key of one piece of room state: `(type, state_key)`, unambiguous whatever the strings hold. */
export type StateKey = string;

export function stateKeyOf(type: string, stateKey: string): StateKey {
  return JSON.stringify([type, stateKey]);
}

export function parseStateKey(key: StateKey): { type: string; stateKey: string } {
  const [type, stateKey] = JSON.parse(key) as [string, string];
  return { type, stateKey };
}

/** A room state: `(type, state_key)` → event ID. */
export type StateMap = ReadonlyMap<StateKey, string>;

/**
 * Builds the view of a PDU for a room version; throws a TypeError for a PDU of the wrong shape.
 * `knownEventId` skips hashing for an event read back from storage, whose ID was computed when it
 * was received; never pass an ID taken from the PDU or from another server.
 */
export function toRoomEvent(
  pdu: JsonObject,
  roomVersion: RoomVersion,
  knownEventId?: string,
): RoomEvent {
  const type = requireString(pdu, 'type');
  const stateKey = pdu.state_key;
  if (stateKey !== undefined && typeof stateKey !== 'string')
    throw new TypeError('state_key is not a string');
  const content = pdu.content;
  if (content === null || typeof content !== 'object' || Array.isArray(content)) {
    throw new TypeError('content is not an object');
  }
  const isV12Create =
    roomVersion.roomIdFromCreateEvent && type === 'm.room.create' && stateKey === '';
  const eventId = knownEventId ?? computeEventId(pdu, roomVersion);
  // A v12 room ID is the create event's ID with `!` for `$`.
  const roomId = isV12Create
    ? knownEventId === undefined
      ? computeV12RoomId(pdu, roomVersion)
      : `!${knownEventId.slice(1)}`
    : requireString(pdu, 'room_id');
  const redacts = roomVersion.redactsInContent ? content.redacts : pdu.redacts;
  return {
    eventId,
    roomId,
    type,
    stateKey,
    sender: requireString(pdu, 'sender'),
    content,
    prevEventIds: referencesOf(pdu.prev_events, roomVersion, 'prev_events'),
    authEventIds: referencesOf(pdu.auth_events, roomVersion, 'auth_events'),
    depth: requireInteger(pdu, 'depth'),
    originServerTs: requireInteger(pdu, 'origin_server_ts'),
    redacts: typeof redacts === 'string' ? redacts : undefined,
    pdu,
  };
}

function referencesOf(
  value: JsonValue | undefined,
  roomVersion: RoomVersion,
  field: string,
): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${field} is not a list`);
  return value.map((reference) => {
    if (roomVersion.eventIdFormat === 'v1') {
      if (Array.isArray(reference) && typeof reference[0] === 'string') return reference[0];
    } else if (typeof reference === 'string') {
      return reference;
    }
    throw new TypeError(`${field} holds a malformed event reference`);
  });
}

function requireString(pdu: JsonObject, field: string): string {
  const value = pdu[field];
  if (typeof value !== 'string') throw new TypeError(`${field} is not a string`);
  return value;
}

function requireInteger(pdu: JsonObject, field: string): number {
  const value = pdu[field];
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw new TypeError(`${field} is not an integer`);
  return value;
}
