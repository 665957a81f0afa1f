/**
 * Checks of published keys beyond their JSON shape (client-server API "Key algorithms",
 * "Device keys", "Cross-signing"): key names, ed25519 public keys, self-signatures, and what
 * counts as "the same key" when a client uploads one again. Pure functions; errors are 400s.
 */
import { decodeBase64 } from '../../core/base64.js';
import { canonicalJson, type JsonObject, type JsonValue } from '../../core/canonical-json.js';
import { badJson, invalidParam } from '../../core/errors.js';
import { verifyJsonSignature } from '../../protocol/signing.js';

export const ED25519 = 'ed25519';
export const SIGNED_CURVE25519 = 'signed_curve25519';
const ED25519_PUBLIC_KEY_BYTES = 32;

/** A key name (`<algorithm>:<key ID>`) is at most this long. */
export const MAX_KEY_NAME_LENGTH = 255;

/** A device's identity keys as uploaded (`definitions/device_keys.yaml`). */
export interface DeviceKeysObject extends JsonObject {
  user_id: string;
  device_id: string;
  algorithms: string[];
  keys: { [name: string]: string };
  signatures: { [userId: string]: { [keyId: string]: string } };
}

/** A cross-signing key as uploaded (`definitions/cross_signing_key.yaml`). */
export interface CrossSigningKeyObject extends JsonObject {
  user_id: string;
  usage: string[];
  keys: { [name: string]: string };
}

/** A one-time or fallback key: a bare string, or a signed key object. */
export type OneTimeKeyValue = string | JsonObject;

/** `<algorithm>:<key ID>`, both parts non-empty; 400 M_INVALID_PARAM otherwise. */
export function splitKeyName(name: string, what: string): { algorithm: string; keyId: string } {
  const colon = name.indexOf(':');
  if (colon <= 0 || colon === name.length - 1 || name.length > MAX_KEY_NAME_LENGTH) {
    throw invalidParam(`${what} ${JSON.stringify(name)} is not <algorithm>:<key ID>`);
  }
  return { algorithm: name.slice(0, colon), keyId: name.slice(colon + 1) };
}

/** Whether `value` is an unpadded base64 32-byte ed25519 public key. */
export function isEd25519PublicKey(value: string): boolean {
  if (value.includes('=')) return false;
  try {
    return decodeBase64(value).length === ED25519_PUBLIC_KEY_BYTES;
  } catch {
    return false;
  }
}

/** Canonical JSON of a client's key object; 400 M_BAD_JSON when it cannot be (floats). */
export function canonicalKeyJson(value: JsonValue): string {
  try {
    return canonicalJson(value);
  } catch {
    throw badJson('Keys must be canonical JSON (integers only)');
  }
}

/** The object without `unsigned`, which only servers add. */
export function withoutUnsigned<T extends JsonObject>(obj: T): T {
  const { unsigned: _unsigned, ...rest } = obj;
  return rest as T;
}

/** Whether two key objects are the same key: equal but for `signatures` and `unsigned`. */
export function sameKeyContent(a: JsonObject, b: JsonObject): boolean {
  const strip = ({ signatures: _s, unsigned: _u, ...rest }: JsonObject) => rest;
  return canonicalKeyJson(strip(a)) === canonicalKeyJson(strip(b));
}

/**
 * Checks uploaded device keys: they belong to the uploading user and device, every key is named
 * `<algorithm>:<device ID>`, there is an ed25519 key, and the object is signed by it.
 */
export function checkDeviceKeys(keys: DeviceKeysObject, userId: string, deviceId: string): void {
  if (keys.user_id !== userId) throw invalidParam('device_keys.user_id must be your user ID');
  if (keys.device_id !== deviceId) {
    throw invalidParam('device_keys.device_id must be the device of the access token');
  }
  for (const name of Object.keys(keys.keys)) {
    const { keyId } = splitKeyName(name, 'device_keys.keys entry');
    if (keyId !== deviceId) {
      throw invalidParam(`device_keys.keys entry ${JSON.stringify(name)} must end in :${deviceId}`);
    }
  }
  const signingKeyName = `${ED25519}:${deviceId}`;
  const publicKey = Object.hasOwn(keys.keys, signingKeyName)
    ? keys.keys[signingKeyName]
    : undefined;
  if (publicKey === undefined || !isEd25519PublicKey(publicKey)) {
    throw invalidParam(`device_keys.keys must hold the device's ed25519 key ${signingKeyName}`);
  }
  if (!verifyJsonSignature(keys, userId, signingKeyName, publicKey)) {
    throw invalidParam(`device_keys must be signed by ${signingKeyName}`);
  }
}

/**
 * The public key of a cross-signing key after checking it: it belongs to the user, its usage
 * lists `usage`, and it holds exactly one key named `ed25519:<public key>`.
 */
export function crossSigningPublicKey(
  key: CrossSigningKeyObject,
  userId: string,
  usage: string,
): string {
  if (key.user_id !== userId) throw invalidParam(`The ${usage} key must be for ${userId}`);
  if (!key.usage.includes(usage)) throw invalidParam(`The ${usage} key must have usage ${usage}`);
  const names = Object.keys(key.keys);
  const name = names[0];
  if (names.length !== 1 || name === undefined) {
    throw invalidParam(`The ${usage} key must hold exactly one key`);
  }
  const { algorithm, keyId } = splitKeyName(name, `The ${usage} key's name`);
  if (algorithm !== ED25519 || key.keys[name] !== keyId || !isEd25519PublicKey(keyId)) {
    throw invalidParam(`The ${usage} key must be ed25519:<public key> with that public key`);
  }
  return keyId;
}
