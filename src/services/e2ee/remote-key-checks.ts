/**
 * What another server answers to `/user/keys/query` and `/user/keys/claim` is checked before a
 * local client sees it: a server speaks only for its own users, and only about what it was asked.
 * Device keys must name the user and device they are filed under and carry a valid
 * self-signature (the check `/keys/upload` makes locally); cross-signing keys must be well
 * formed, and a self-signing key must be signed by the master key given with it. Whatever fails
 * is dropped, the rest kept. Pure functions.
 */
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { parseUserId } from '../../core/identifiers.js';
import { verifyJsonSignature } from '../../protocol/signing.js';
import {
  ED25519,
  checkDeviceKeys,
  crossSigningPublicKey,
  type CrossSigningKeyObject,
  type DeviceKeysObject,
} from './key-shapes.js';

/** The keys another server gave for its users, as kept. */
export interface CheckedRemoteKeys {
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
}

/**
 * Keeps, of a `/user/keys/query` answer from `server`, the keys of the users asked (user ID →
 * device IDs, `[]` for all) that verify.
 */
export function checkRemoteQueryAnswer(
  server: string,
  asked: Readonly<Record<string, readonly string[]>>,
  answer: JsonValue,
): CheckedRemoteKeys {
  const kept: CheckedRemoteKeys = { device_keys: {}, master_keys: {}, self_signing_keys: {} };
  const body = asObject(answer);
  const deviceKeys = asObject(body?.['device_keys']);
  const masterKeys = asObject(body?.['master_keys']);
  const selfSigningKeys = asObject(body?.['self_signing_keys']);
  for (const userId of Object.keys(asked)) {
    if (!isUserOf(userId, server)) continue;
    const wanted = asked[userId] ?? [];
    const devices = asObject(ownValue(deviceKeys, userId));
    if (devices !== undefined) {
      const byDevice = new Map<string, JsonObject>();
      for (const [deviceId, value] of Object.entries(devices)) {
        if (wanted.length > 0 && !wanted.includes(deviceId)) continue;
        const keys = validDeviceKeys(value, userId, deviceId);
        if (keys !== undefined) byDevice.set(deviceId, keys);
      }
      kept.device_keys[userId] = Object.fromEntries(byDevice);
    }
    const master = validCrossSigningKey(ownValue(masterKeys, userId), userId, 'master');
    if (master === undefined) continue;
    kept.master_keys[userId] = master.key;
    const selfSigning = validCrossSigningKey(
      ownValue(selfSigningKeys, userId),
      userId,
      'self_signing',
    );
    if (
      selfSigning !== undefined &&
      verifyJsonSignature(
        selfSigning.key,
        userId,
        `${ED25519}:${master.publicKey}`,
        master.publicKey,
      )
    ) {
      kept.self_signing_keys[userId] = selfSigning.key;
    }
  }
  return kept;
}

/**
 * Keeps, of a `/user/keys/claim` answer from `server`, one key per device asked (user ID →
 * device ID → algorithm), named `<algorithm>:<key ID>` with the algorithm asked, a string or a
 * key object. Signatures of one-time keys are the claiming client's to check: it has the
 * device's identity key.
 */
export function checkRemoteClaimAnswer(
  server: string,
  asked: Readonly<Record<string, Readonly<Record<string, string>>>>,
  answer: JsonValue,
): Record<string, Record<string, Record<string, JsonValue>>> {
  const kept: Record<string, Record<string, Record<string, JsonValue>>> = {};
  const oneTimeKeys = asObject(asObject(answer)?.['one_time_keys']);
  for (const [userId, devicesAsked] of Object.entries(asked)) {
    if (!isUserOf(userId, server)) continue;
    const devices = asObject(ownValue(oneTimeKeys, userId));
    if (devices === undefined) continue;
    const byDevice = new Map<string, Record<string, JsonValue>>();
    for (const [deviceId, algorithm] of Object.entries(devicesAsked)) {
      const keys = asObject(ownValue(devices, deviceId));
      if (keys === undefined) continue;
      const entry = Object.entries(keys).find(
        ([name, value]) =>
          name.startsWith(`${algorithm}:`) &&
          name.length > algorithm.length + 1 &&
          (typeof value === 'string' || asObject(value) !== undefined),
      );
      if (entry !== undefined) byDevice.set(deviceId, { [entry[0]]: entry[1] });
    }
    if (byDevice.size > 0) kept[userId] = Object.fromEntries(byDevice);
  }
  return kept;
}

/** The device keys if they are well formed for that user and device and self-signed. */
function validDeviceKeys(value: JsonValue, userId: string, deviceId: string) {
  const keys = asObject(value);
  if (keys === undefined) return undefined;
  const { user_id, device_id, algorithms, signatures } = keys;
  const named = asObject(keys['keys']);
  if (typeof user_id !== 'string' || typeof device_id !== 'string') return undefined;
  if (!Array.isArray(algorithms) || asObject(signatures) === undefined || named === undefined) {
    return undefined;
  }
  if (!Object.values(named).every((key) => typeof key === 'string')) return undefined;
  try {
    checkDeviceKeys(keys as DeviceKeysObject, userId, deviceId);
  } catch {
    return undefined;
  }
  return keys;
}

function validCrossSigningKey(value: JsonValue | undefined, userId: string, usage: string) {
  const key = asObject(value);
  const named = asObject(key?.['keys']);
  if (key === undefined || named === undefined || typeof key['user_id'] !== 'string') {
    return undefined;
  }
  const usages = key['usage'];
  if (!Array.isArray(usages) || !Object.values(named).every((k) => typeof k === 'string')) {
    return undefined;
  }
  try {
    const publicKey = crossSigningPublicKey(key as CrossSigningKeyObject, userId, usage);
    return { key, publicKey };
  } catch {
    return undefined;
  }
}

function isUserOf(userId: string, server: string): boolean {
  try {
    return parseUserId(userId).serverName === server;
  } catch {
    return false;
  }
}

/** `object[key]` if it is the object's own property (keys such as `__proto__` stay data). */
function ownValue(object: JsonObject | undefined, key: string): JsonValue | undefined {
  return object !== undefined && Object.hasOwn(object, key) ? object[key] : undefined;
}

function asObject(value: JsonValue | undefined): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}
