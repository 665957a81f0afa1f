/**
 * `POST /keys/upload` (client-server API "Uploading keys"): a device publishes its identity
 * keys, one-time keys and fallback keys. Everything of one request is stored in one transaction,
 * or nothing is. New identity keys change the user's device list, so that users sharing a room
 * with them fetch the keys.
 */
import type { JsonObject } from '../../core/canonical-json.js';
import { invalidParam, tooLarge } from '../../core/errors.js';
import { selectDeviceKeysJson, upsertDeviceKeys } from '../../storage/e2ee/device-keys.js';
import {
  countOneTimeKeys,
  insertOneTimeKeys,
  selectFallbackKey,
  selectOneTimeKeys,
  upsertFallbackKey,
  type DeviceRef,
  type StoredKey,
} from '../../storage/e2ee/one-time-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { DeviceLists } from '../devices/device-lists.js';
import {
  SIGNED_CURVE25519,
  canonicalKeyJson,
  checkDeviceKeys,
  sameKeyContent,
  splitKeyName,
  withoutUnsigned,
  type DeviceKeysObject,
  type OneTimeKeyValue,
} from './key-shapes.js';

/** At most this many one-time keys per request (clients upload up to 50 or 100 at a time). */
export const MAX_ONE_TIME_KEYS_PER_UPLOAD = 1000;
/** At most this many fallback keys per request (one per algorithm). */
export const MAX_FALLBACK_KEYS_PER_UPLOAD = 16;
/** At most this many identity keys and algorithms in `device_keys`. */
export const MAX_DEVICE_KEY_ENTRIES = 32;
/** A device holds at most this many unclaimed one-time keys. */
export const MAX_UNCLAIMED_ONE_TIME_KEYS = 10_000;

export interface KeyUploadRequest {
  device_keys?: DeviceKeysObject | undefined;
  one_time_keys?: Record<string, OneTimeKeyValue> | undefined;
  fallback_keys?: Record<string, OneTimeKeyValue> | undefined;
}

export interface KeyUploadResponse {
  one_time_key_counts: Record<string, number>;
}

export class KeyUpload {
  constructor(
    private readonly db: TenantDatabase,
    private readonly deviceLists: DeviceLists,
  ) {}

  async upload(device: DeviceRef, request: KeyUploadRequest): Promise<KeyUploadResponse> {
    const { userId, deviceId } = device;
    const deviceKeys = request.device_keys;
    if (deviceKeys !== undefined) {
      if (
        Object.keys(deviceKeys.keys).length > MAX_DEVICE_KEY_ENTRIES ||
        deviceKeys.algorithms.length > MAX_DEVICE_KEY_ENTRIES
      ) {
        throw tooLarge(`device_keys holds at most ${MAX_DEVICE_KEY_ENTRIES} keys and algorithms`);
      }
      checkDeviceKeys(deviceKeys, userId, deviceId);
    }
    if (Object.keys(request.one_time_keys ?? {}).length > MAX_ONE_TIME_KEYS_PER_UPLOAD) {
      throw tooLarge(`At most ${MAX_ONE_TIME_KEYS_PER_UPLOAD} one-time keys per request`);
    }
    if (Object.keys(request.fallback_keys ?? {}).length > MAX_FALLBACK_KEYS_PER_UPLOAD) {
      throw tooLarge(`At most ${MAX_FALLBACK_KEYS_PER_UPLOAD} fallback keys per request`);
    }
    const oneTimeKeys = parseKeys(request.one_time_keys, 'one_time_keys');
    const fallbackKeys = parseKeys(request.fallback_keys, 'fallback_keys');
    const algorithms = fallbackKeys.map((key) => key.algorithm);
    if (new Set(algorithms).size !== algorithms.length) {
      throw invalidParam('fallback_keys holds at most one key per algorithm');
    }

    const { counts, deviceListChanged } = await this.db.transact(async (trx) => {
      let deviceListChanged = false;
      if (deviceKeys !== undefined) {
        const uploaded = withoutUnsigned(deviceKeys);
        const json = canonicalKeyJson(uploaded);
        const existing = await selectDeviceKeysJson(trx, userId, deviceId);
        if (
          existing !== undefined &&
          !sameKeyContent(JSON.parse(existing) as JsonObject, uploaded)
        ) {
          throw invalidParam(`Device ${deviceId} already has different identity keys`);
        }
        if (existing !== json) {
          await upsertDeviceKeys(trx, userId, deviceId, json);
          await this.deviceLists.recordDeviceListChange(trx, userId);
          deviceListChanged = true;
        }
      }

      const fresh: StoredKey[] = [];
      for (const [algorithm, keys] of groupByAlgorithm(oneTimeKeys)) {
        const stored = await selectOneTimeKeys(
          trx,
          device,
          algorithm,
          keys.map((key) => key.keyId),
        );
        for (const key of keys) {
          const existing = stored.get(key.keyId);
          if (existing === undefined) fresh.push(key);
          else if (existing !== key.keyJson) {
            throw invalidParam(`One-time key ${algorithm}:${key.keyId} exists with other content`);
          }
        }
      }
      if (fresh.length > 0) {
        const held = Object.values(await countOneTimeKeys(trx, device)).reduce((a, b) => a + b, 0);
        if (held + fresh.length > MAX_UNCLAIMED_ONE_TIME_KEYS) {
          throw tooLarge(`A device holds at most ${MAX_UNCLAIMED_ONE_TIME_KEYS} one-time keys`);
        }
        await insertOneTimeKeys(trx, device, fresh);
      }

      // The same fallback key again keeps its state (used or not); any other replaces it.
      for (const key of fallbackKeys) {
        const existing = await selectFallbackKey(trx, device, key.algorithm);
        if (existing?.keyId === key.keyId && existing.keyJson === key.keyJson) continue;
        await upsertFallbackKey(trx, device, key);
      }
      return { counts: await countOneTimeKeys(trx, device), deviceListChanged };
    });
    if (deviceListChanged) await this.deviceLists.announce(userId);
    return { one_time_key_counts: withSignedCurve25519(counts) };
  }
}

/**
 * One-time key counts as Synapse gives them: `signed_curve25519` is always there (0 when the
 * device has none), since clients read a missing count as "unknown", not "none left".
 */
export function withSignedCurve25519(counts: Record<string, number>): Record<string, number> {
  return { [SIGNED_CURVE25519]: 0, ...counts };
}

function parseKeys(keys: Record<string, OneTimeKeyValue> | undefined, field: string): StoredKey[] {
  if (keys === undefined) return [];
  return Object.entries(keys).map(([name, value]) => {
    const { algorithm, keyId } = splitKeyName(name, `${field} entry`);
    return { algorithm, keyId, keyJson: canonicalKeyJson(value) };
  });
}

function groupByAlgorithm(keys: readonly StoredKey[]): Map<string, StoredKey[]> {
  const groups = new Map<string, StoredKey[]>();
  for (const key of keys) {
    const group = groups.get(key.algorithm) ?? [];
    group.push(key);
    groups.set(key.algorithm, group);
  }
  return groups;
}
