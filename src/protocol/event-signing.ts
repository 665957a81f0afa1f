/**
 * Signing events (server-server API "Signing Events"): the content hash covers the full event,
 * the signature covers the redacted event (so it survives redaction) including that hash.
 */

import { createHash } from 'node:crypto';
import { encodeBase64, encodeBase64Url } from '../core/base64.js';
import { canonicalJsonBytes } from '../core/canonical-json.js';
import type { JsonObject } from '../core/canonical-json.js';
import { addContentHash, computeContentHash } from './event-hashing.js';
import { redactEvent } from './redaction.js';
import type { RoomVersion } from './room-versions.js';
import type { SigningKey } from './signing-key.js';
import { signJson, verifyJsonSignature } from './signing.js';
import type { Signatures } from './signing.js';

/** Returns a copy of `event` with its content hash set and signed by `serverName` with `key`. */
export function signEvent(
  event: JsonObject,
  serverName: string,
  key: SigningKey,
  roomVersion: RoomVersion,
): JsonObject & { signatures: Signatures } {
  return addEventSignature(addContentHash(event), serverName, key, roomVersion);
}

/** An event this server created: hashed, signed, named. */
export interface NewSignedEvent {
  readonly pdu: JsonObject & { signatures: Signatures };
  /** Its ID (for v1–2 rooms, the `event_id` it carries). */
  readonly eventId: string;
}

/**
 * `signEvent` followed by `computeEventId`, for a fresh event (no `signatures`, `unsigned` or
 * `hashes` yet) that the caller no longer mutates. The redacted form without signatures is both
 * what the signature covers and, in hash-based room versions, what the reference hash covers, so
 * it is serialized once, and nothing is deep-copied: this is on the path of every event sent.
 */
export function signNewEvent(
  event: JsonObject,
  serverName: string,
  key: SigningKey,
  roomVersion: RoomVersion,
): NewSignedEvent {
  const hashed = { ...event, hashes: { sha256: encodeBase64(computeContentHash(event)) } };
  const redactedBytes = canonicalJsonBytes(redactEvent(hashed, roomVersion));
  const signatures: Signatures = {
    [serverName]: { [key.keyId]: encodeBase64(key.sign(redactedBytes)) },
  };
  const pdu = { ...hashed, signatures };
  if (roomVersion.eventIdFormat === 'v1') return { pdu, eventId: event.event_id as string };
  const referenceHash = createHash('sha256').update(redactedBytes).digest();
  const encoded =
    roomVersion.eventIdFormat === 'v3'
      ? encodeBase64(referenceHash)
      : encodeBase64Url(referenceHash);
  return { pdu, eventId: `$${encoded}` };
}

/**
 * Adds `serverName`'s signature to an already hashed event, keeping existing signatures: for
 * co-signing another server's event (invites, restricted joins) without touching its hash.
 */
export function addEventSignature(
  event: JsonObject,
  serverName: string,
  key: SigningKey,
  roomVersion: RoomVersion,
): JsonObject & { signatures: Signatures } {
  const { signatures } = signJson(redactEvent(event, roomVersion), serverName, key);
  return { ...structuredClone(event), signatures };
}

/**
 * Whether `event` (full or already redacted) carries a valid signature by `serverName` under
 * `keyId`. Checks the signature only; check the content hash separately (`checkContentHash`).
 */
export function verifyEventSignature(
  event: JsonObject,
  serverName: string,
  keyId: string,
  publicKey: string,
  roomVersion: RoomVersion,
): boolean {
  let redacted: JsonObject;
  try {
    redacted = redactEvent(event, roomVersion);
  } catch {
    return false;
  }
  return verifyJsonSignature(redacted, serverName, keyId, publicKey);
}
