/**
 * Signing events (server-server API "Signing Events"): the content hash covers the full event,
 * the signature covers the redacted event (so it survives redaction) including that hash.
 */

import type { JsonObject } from '../core/canonical-json.js';
import { addContentHash } from './event-hashing.js';
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
