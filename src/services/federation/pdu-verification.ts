/**
 * The first checks on a PDU received from another server ("Checks performed on receipt of a
 * PDU", steps 1–3): a valid event of its room version (shape, sizes), signed by every server
 * that must sign it, and with a matching content hash — an event whose hash does not match is
 * kept in its redacted form, as the spec asks. The auth checks come after, in the room graph.
 */

import { canonicalJsonBytes } from '../../core/canonical-json.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { MAX_IDENTIFIER_BYTES, MAX_PDU_BYTES, parseUserId } from '../../core/identifiers.js';
import { checkContentHash } from '../../protocol/event-hashing.js';
import { verifyEventSignature } from '../../protocol/event-signing.js';
import { redactEvent } from '../../protocol/redaction.js';
import { toRoomEvent } from '../../protocol/room-event.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { RemoteKeys } from './federation-contracts.js';

/** A PDU that must be dropped (steps 1–2), with the reason. */
export class PduRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PduRejected';
  }
}

export interface VerifiedPdu {
  /** The event as it is to be processed (redacted if its content hash did not match). */
  readonly event: RoomEvent;
  readonly redacted: boolean;
}

/** Checks a received PDU's format, signatures and content hash; throws `PduRejected`. */
export async function verifyPdu(
  pdu: JsonObject,
  roomVersion: RoomVersion,
  keys: RemoteKeys,
): Promise<VerifiedPdu> {
  const event = parse(pdu, roomVersion);
  await requireSignatures(event, roomVersion, keys);
  if (checkContentHash(pdu)) return { event, redacted: false };
  const redacted = parse(redactEvent(pdu, roomVersion), roomVersion);
  return { event: redacted, redacted: true };
}

/** The servers whose signatures the event must carry (spec: "Validating hashes and signatures"). */
export function requiredSigners(event: RoomEvent, roomVersion: RoomVersion): Set<string> {
  const servers = new Set([parseUserId(event.sender).serverName as string]);
  // Rooms v1 and v2: event IDs name the server that made them.
  if (roomVersion.requireEventIdDomainSignature) {
    const domain = event.eventId.slice(event.eventId.indexOf(':') + 1);
    if (domain !== '') servers.add(domain);
  }
  // A restricted join is also signed by the resident server that authorised it.
  const via = event.content.join_authorised_via_users_server;
  if (
    roomVersion.restrictedJoinRule &&
    event.type === 'm.room.member' &&
    event.content.membership === 'join' &&
    typeof via === 'string'
  ) {
    try {
      servers.add(parseUserId(via).serverName);
    } catch {
      // An invalid user ID fails the auth rules later.
    }
  }
  return servers;
}

function parse(pdu: JsonObject, roomVersion: RoomVersion): RoomEvent {
  let bytes: number;
  try {
    bytes = canonicalJsonBytes(pdu).length;
  } catch {
    throw new PduRejected('the event is not valid canonical JSON');
  }
  if (bytes > MAX_PDU_BYTES) throw new PduRejected(`the event is ${bytes} bytes, over 65536`);
  let event: RoomEvent;
  try {
    event = toRoomEvent(pdu, roomVersion);
  } catch (error) {
    throw new PduRejected(`malformed event: ${(error as Error).message}`);
  }
  for (const [field, value] of [
    ['sender', event.sender],
    ['type', event.type],
    ['state_key', event.stateKey],
    ['room_id', event.roomId],
  ] as const) {
    if (value !== undefined && Buffer.byteLength(value) > MAX_IDENTIFIER_BYTES) {
      throw new PduRejected(`${field} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    }
  }
  try {
    parseUserId(event.sender);
  } catch {
    throw new PduRejected(`sender ${event.sender} is not a user ID`);
  }
  return event;
}

async function requireSignatures(
  event: RoomEvent,
  roomVersion: RoomVersion,
  keys: RemoteKeys,
): Promise<void> {
  const signatures = event.pdu.signatures;
  // Rooms v5+: the key must have been valid when the event was made.
  const atTs = roomVersion.enforceKeyValidity ? event.originServerTs : undefined;
  for (const server of requiredSigners(event, roomVersion)) {
    const byServer =
      signatures !== null && typeof signatures === 'object' && !Array.isArray(signatures)
        ? signatures[server]
        : undefined;
    const keyIds =
      byServer !== null && typeof byServer === 'object' && !Array.isArray(byServer)
        ? Object.keys(byServer).filter((keyId) => keyId.startsWith('ed25519:'))
        : [];
    if (keyIds.length === 0) throw new PduRejected(`the event is not signed by ${server}`);
    let verified = false;
    for (const keyId of keyIds) {
      const publicKey = await keys.verifyKey(server, keyId, atTs);
      if (
        publicKey !== undefined &&
        verifyEventSignature(event.pdu, server, keyId, publicKey, roomVersion)
      ) {
        verified = true;
        break;
      }
    }
    if (!verified) throw new PduRejected(`the signature of ${server} does not verify`);
  }
}
