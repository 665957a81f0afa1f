/**
 * `POST /keys/query` (client-server API "Tracking the device list for a user", "Cross-signing"):
 * the identity keys of users' devices, with each device's display name in `unsigned`, and their
 * cross-signing keys. Signatures added later (`/keys/signatures/upload`) are merged in when the
 * key's owner or the requester made them: a user's signatures of other users' master keys are
 * theirs alone to see, as is their user-signing key.
 */
import type { Kysely } from 'kysely';
import type { JsonObject, JsonValue } from '../../core/canonical-json.js';
import { tooLarge } from '../../core/errors.js';
import {
  selectCrossSigningKeys,
  type CrossSigningUsage,
  type StoredCrossSigningKey,
} from '../../storage/e2ee/cross-signing-keys.js';
import { selectDeviceKeysOfUser } from '../../storage/e2ee/device-keys.js';
import { selectKeySignatures, type KeySignature } from '../../storage/e2ee/key-signatures.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { federationFailures, splitUsersByServer } from './user-servers.js';

/** At most this many users per query (clients ask in batches of a few hundred). */
export const MAX_QUERIED_USERS = 5000;

export interface KeyQueryResponse {
  failures: Record<string, JsonObject>;
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
}

export class KeyQuery {
  constructor(
    private readonly db: TenantDatabase,
    private readonly serverName: string,
  ) {}

  /**
   * `deviceKeys`: user ID → device IDs, `[]` for all of the user's devices. Local users get an
   * entry in `device_keys` (empty when they have no device with keys); unknown devices are left
   * out; other servers go to `failures`.
   */
  async query(
    requesterId: string,
    deviceKeys: Readonly<Record<string, readonly string[]>>,
  ): Promise<KeyQueryResponse> {
    const userIds = Object.keys(deviceKeys);
    if (userIds.length > MAX_QUERIED_USERS) {
      throw tooLarge(`At most ${MAX_QUERIED_USERS} users per query`);
    }
    const { local, remoteServers } = splitUsersByServer(userIds, this.serverName);
    const response: KeyQueryResponse = {
      failures: federationFailures(remoteServers),
      device_keys: {},
      master_keys: {},
      self_signing_keys: {},
      user_signing_keys: {},
    };
    const viewers = [requesterId];
    await this.db.read(async (db) => {
      for (const userId of local) {
        const wanted = deviceKeys[userId] ?? [];
        const devices = await selectDeviceKeysOfUser(
          db,
          userId,
          wanted.length === 0 ? undefined : wanted,
        );
        const signatures = await selectKeySignatures(
          db,
          userId,
          devices.map((device) => device.deviceId),
          [userId, ...viewers],
        );
        const byDevice: Record<string, JsonObject> = {};
        for (const device of devices) {
          const keys = withSignatures(
            JSON.parse(device.keyJson) as JsonObject,
            signatures.filter((signature) => signature.keyId === device.deviceId),
          );
          if (device.displayName !== null) {
            keys['unsigned'] = { device_display_name: device.displayName };
          }
          byDevice[device.deviceId] = keys;
        }
        response.device_keys[userId] = byDevice;
      }

      const usages: CrossSigningUsage[] = ['master', 'self_signing'];
      const crossSigning = await selectCrossSigningKeys(db, local, usages);
      if (local.includes(requesterId)) {
        crossSigning.push(...(await selectCrossSigningKeys(db, [requesterId], ['user_signing'])));
      }
      for (const key of crossSigning) {
        const target = sectionOf(response, key.usage);
        target[key.userId] = await this.#crossSigningKey(db, key, requesterId);
      }
    });
    return response;
  }

  async #crossSigningKey(
    db: Kysely<Database>,
    key: StoredCrossSigningKey,
    requesterId: string,
  ): Promise<JsonObject> {
    const stored = JSON.parse(key.keyJson) as JsonObject;
    if (key.usage !== 'master') return stored;
    const signatures = await selectKeySignatures(
      db,
      key.userId,
      [key.publicKey],
      [key.userId, requesterId],
    );
    return withSignatures(stored, signatures);
  }
}

function sectionOf(
  response: KeyQueryResponse,
  usage: CrossSigningUsage,
): Record<string, JsonObject> {
  switch (usage) {
    case 'master':
      return response.master_keys;
    case 'self_signing':
      return response.self_signing_keys;
    case 'user_signing':
      return response.user_signing_keys;
  }
}

/** The key with `signatures` added (those already in it kept). */
export function withSignatures(key: JsonObject, signatures: readonly KeySignature[]): JsonObject {
  if (signatures.length === 0) return key;
  // Maps and `fromEntries`, so that keys from clients such as "__proto__" stay plain keys.
  const merged = new Map<string, Map<string, JsonValue>>();
  const existing = key['signatures'];
  if (typeof existing === 'object' && existing !== null && !Array.isArray(existing)) {
    for (const [userId, byKey] of Object.entries(existing)) {
      if (typeof byKey === 'object' && byKey !== null && !Array.isArray(byKey)) {
        merged.set(userId, new Map(Object.entries(byKey)));
      }
    }
  }
  for (const signature of signatures) {
    const byKey = merged.get(signature.signerUserId) ?? new Map<string, JsonValue>();
    byKey.set(signature.signerKeyId, signature.signature);
    merged.set(signature.signerUserId, byKey);
  }
  const signaturesObject = Object.fromEntries(
    [...merged].map(([userId, byKey]) => [userId, Object.fromEntries(byKey)]),
  ) as JsonObject;
  return { ...key, signatures: signaturesObject };
}
