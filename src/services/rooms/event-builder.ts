/**
 * Builds this server's own PDUs (server-server API "PDUs"; rooms: "Event format"): the fields
 * of the room version's event format, the content hash, this server's signature, and the event
 * ID the version derives. Pure apart from randomness for v1–2 event IDs and v1–11 room IDs.
 */

import { randomInt } from 'node:crypto';
import { encodeBase64 } from '../../core/base64.js';
import { CanonicalJsonError, canonicalJsonBytes } from '../../core/canonical-json.js';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { badJson, tooLarge } from '../../core/errors.js';
import { MAX_IDENTIFIER_BYTES, MAX_PDU_BYTES } from '../../core/identifiers.js';
import { computeReferenceHash, generateLegacyEventId } from '../../protocol/event-hashing.js';
import { signNewEvent, type NewSignedEvent } from '../../protocol/event-signing.js';
import { toRoomEvent } from '../../protocol/room-event.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { SigningKey } from '../../protocol/signing-key.js';

/** What a new event says; the builder adds where it sits in the room and who vouches for it. */
export interface EventDraft {
  readonly type: string;
  /** Undefined for a message event. */
  readonly stateKey?: string;
  readonly sender: string;
  readonly content: JsonObject;
  /** For `m.room.redaction` in v1–10 rooms: the redacted event, at the top level of the PDU. */
  readonly redacts?: string;
}

export interface BuildContext {
  readonly version: RoomVersion;
  /** Undefined only for the create event of a v12 room, whose ID derives from it. */
  readonly roomId: string | undefined;
  /** Listed as `prev_events`; `depth` is one more than the deepest. */
  readonly prevEvents: readonly RoomEvent[];
  /** Listed as `auth_events`, picked by auth events selection from the state before. */
  readonly authEvents: readonly RoomEvent[];
  readonly originServerTs: number;
  readonly serverName: string;
  readonly signingKey: SigningKey;
}

const ROOM_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ROOM_ID_LENGTH = 18;

/** A new `!opaque:server` room ID, for room versions whose IDs do not derive from the create event. */
export function generateRoomId(serverName: string): string {
  let opaque = '';
  for (let i = 0; i < ROOM_ID_LENGTH; i++) {
    opaque += ROOM_ID_ALPHABET[randomInt(ROOM_ID_ALPHABET.length)];
  }
  return `!${opaque}:${serverName}`;
}

/**
 * Builds, hashes and signs an event. Throws 413 M_TOO_LARGE when the PDU exceeds 65,536 bytes
 * or its type, state key, sender or room ID exceeds 255 bytes, and 400 M_BAD_JSON when the
 * content cannot be canonical JSON (floats, integers beyond ±(2^53−1), lone surrogates).
 */
export function buildEvent(draft: EventDraft, context: BuildContext): RoomEvent {
  const { version } = context;
  checkFieldSize('type', draft.type);
  if (draft.stateKey !== undefined) checkFieldSize('state_key', draft.stateKey);
  checkFieldSize('sender', draft.sender);
  const depth = Math.max(0, ...context.prevEvents.map((event) => event.depth)) + 1;
  const pdu: JsonObject = {
    type: draft.type,
    sender: draft.sender,
    content: draft.content,
    depth,
    origin_server_ts: context.originServerTs,
    prev_events: references(context.prevEvents, version),
    auth_events: references(context.authEvents, version),
  };
  if (context.roomId !== undefined) pdu.room_id = context.roomId;
  if (draft.stateKey !== undefined) pdu.state_key = draft.stateKey;
  if (draft.redacts !== undefined && !version.redactsInContent) pdu.redacts = draft.redacts;
  if (version.eventIdFormat === 'v1') {
    pdu.event_id = generateLegacyEventId(context.serverName);
    pdu.origin = context.serverName;
  }

  let signed: NewSignedEvent;
  let size: number;
  try {
    signed = signNewEvent(pdu, context.serverName, context.signingKey, version);
    size = canonicalJsonBytes(signed.pdu).length;
  } catch (error) {
    if (error instanceof CanonicalJsonError) {
      throw badJson(`The event content is not valid canonical JSON (${error.message})`);
    }
    throw error;
  }
  if (size > MAX_PDU_BYTES) {
    throw tooLarge(`The event is ${size} bytes; events may be at most ${MAX_PDU_BYTES} bytes`);
  }
  return toRoomEvent(signed.pdu, version, signed.eventId);
}

function checkFieldSize(field: string, value: string): void {
  if (Buffer.byteLength(value, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw tooLarge(`The event's ${field} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
}

/** Event references in the version's format: IDs, or `[id, {sha256}]` pairs in v1–2 rooms. */
function references(events: readonly RoomEvent[], version: RoomVersion): JsonValue[] {
  if (version.eventIdFormat !== 'v1') return events.map((event) => event.eventId);
  return events.map((event) => [
    event.eventId,
    { sha256: encodeBase64(computeReferenceHash(event.pdu, version)) },
  ]);
}
