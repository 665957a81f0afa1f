/**
 * Signing JSON (appendices: "Signing JSON", "Checking for a Signature"): the signature covers the
 * canonical JSON of the object without `signatures` and `unsigned`, and is stored under
 * `signatures.<signing name>.<key ID>`.
 */

import { encodeBase64 } from '../core/base64.js';
import { canonicalJsonBytes } from '../core/canonical-json.js';
import type { JsonObject, JsonValue } from '../core/canonical-json.js';
import { ED25519, verifyEd25519 } from './signing-key.js';
import type { SigningKey } from './signing-key.js';

/** `signatures`: signing name (server name) → key ID → unpadded base64 signature. */
export type Signatures = { [signingName: string]: { [keyId: string]: string } };

/** The bytes a signature covers: canonical JSON of the object without `signatures` and `unsigned`. */
export function signedBytes(obj: JsonObject): Uint8Array {
  const { signatures: _signatures, unsigned: _unsigned, ...rest } = obj;
  return canonicalJsonBytes(rest);
}

/**
 * Returns a copy of `obj` signed by `signingName` with `key`. Signatures already present (from
 * other servers or other keys) are kept; `unsigned` is carried over but not signed.
 */
export function signJson<T extends JsonObject>(
  obj: T,
  signingName: string,
  key: SigningKey,
): T & { signatures: Signatures } {
  const signature = encodeBase64(key.sign(signedBytes(obj)));
  const signatures = copySignatures(obj.signatures);
  const mine = ownValue(signatures, signingName) as { [keyId: string]: string } | undefined;
  setOwn(signatures, signingName, { ...mine, [key.keyId]: signature });
  return { ...structuredClone(obj), signatures };
}

/**
 * Whether `obj` carries a valid signature by `signingName` under `keyId`, checked against
 * `publicKey` (unpadded base64). Anything missing or malformed gives `false`.
 */
export function verifyJsonSignature(
  obj: JsonObject,
  signingName: string,
  keyId: string,
  publicKey: string,
): boolean {
  if (!keyId.startsWith(`${ED25519}:`)) return false;
  const signature = getSignature(obj, signingName, keyId);
  if (signature === undefined) return false;
  let bytes: Uint8Array;
  try {
    bytes = signedBytes(obj);
  } catch {
    return false; // not canonical-JSON encodable (e.g. floats), so it cannot carry a valid signature
  }
  return verifyEd25519(publicKey, bytes, signature);
}

/** The key IDs `signingName` has signatures under (any algorithm), in object order. */
export function signatureKeyIds(obj: JsonObject, signingName: string): string[] {
  const byServer = ownObject(ownObject(obj, 'signatures'), signingName);
  return byServer === undefined ? [] : Object.keys(byServer);
}

function getSignature(obj: JsonObject, signingName: string, keyId: string): string | undefined {
  const value = ownValue(ownObject(ownObject(obj, 'signatures'), signingName), keyId);
  return typeof value === 'string' ? value : undefined;
}

function copySignatures(value: JsonValue | undefined): Signatures {
  if (value === undefined) return {};
  if (!isObject(value)) throw new TypeError('signatures must be an object');
  const copy: Signatures = {};
  for (const [name, byKey] of Object.entries(value)) {
    if (!isObject(byKey)) throw new TypeError(`signatures.${name} must be an object`);
    const byKeyCopy: { [keyId: string]: string } = {};
    for (const [keyId, signature] of Object.entries(byKey)) {
      if (typeof signature !== 'string') {
        throw new TypeError(`signatures.${name}.${keyId} must be a string`);
      }
      setOwn(byKeyCopy, keyId, signature);
    }
    setOwn(copy, name, byKeyCopy);
  }
  return copy;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Own-property lookups only, so keys like "__proto__" or "constructor" never reach the prototype.
function ownValue(obj: JsonObject | undefined, key: string): JsonValue | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

// Defines rather than assigns, so a "__proto__" key from the wire stays a plain property.
function setOwn<V>(obj: { [key: string]: V }, key: string, value: V): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function ownObject(obj: JsonObject | undefined, key: string): JsonObject | undefined {
  const value = ownValue(obj, key);
  return isObject(value) ? value : undefined;
}
