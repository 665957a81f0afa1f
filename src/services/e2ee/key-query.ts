/**
 * `POST /keys/query` (client-server API "Tracking the device list for a user", "Cross-signing"):
 * the identity keys of users' devices, with each device's display name in `unsigned`, and their
 * cross-signing keys. Signatures added later (`/keys/signatures/upload`) are merged in when the
 * key's owner or the requester made them: a user's signatures of other users' master keys are
 * theirs alone to see, as is their user-signing key. Other servers' users are asked of their
 * servers (`RemoteE2eeKeys`); other servers ask this one through `queryForServer` and
 * `devicesForServer` (server-server API "End-to-End Encryption").
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
import { selectSequenceValues } from '../../storage/ephemeral/stream-positions.js';
import type { RemoteE2eeKeys } from './remote-e2ee-keys.js';
import { pick, requireLocalUsers, splitUsersByServer } from './user-servers.js';

/** At most this many users per query (clients ask in batches of a few hundred). */
export const MAX_QUERIED_USERS = 5000;

export interface KeyQueryResponse {
  failures: Record<string, JsonObject>;
  device_keys: Record<string, Record<string, JsonObject>>;
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
}

/** The keys of this server's users, as another server gets them (`/user/keys/query`). */
export type LocalKeysForServer = Omit<KeyQueryResponse, 'failures' | 'user_signing_keys'>;

export class KeyQuery {
  constructor(
    private readonly db: TenantDatabase,
    private readonly serverName: string,
    private readonly remote: RemoteE2eeKeys,
  ) {}

  /**
   * `deviceKeys`: user ID → device IDs, `[]` for all of the user's devices. Local users get an
   * entry in `device_keys` (empty when they have no device with keys); unknown devices are left
   * out; other servers' users are asked of their servers, at most `timeoutMs` (default 10 s),
   * and a server that fails is listed in `failures`.
   */
  async query(
    requesterId: string,
    deviceKeys: Readonly<Record<string, readonly string[]>>,
    timeoutMs?: number,
  ): Promise<KeyQueryResponse> {
    const userIds = Object.keys(deviceKeys);
    if (userIds.length > MAX_QUERIED_USERS) {
      throw tooLarge(`At most ${MAX_QUERIED_USERS} users per query`);
    }
    const { local, remote } = splitUsersByServer(userIds, this.serverName);
    const [own, others] = await Promise.all([
      this.#queryLocal(pick(deviceKeys, local), requesterId),
      remote.length === 0 ? undefined : this.remote.query(pick(deviceKeys, remote), timeoutMs),
    ]);
    return {
      failures: others?.failures ?? {},
      device_keys: { ...own.device_keys, ...others?.device_keys },
      master_keys: { ...own.master_keys, ...others?.master_keys },
      self_signing_keys: { ...own.self_signing_keys, ...others?.self_signing_keys },
      user_signing_keys: own.user_signing_keys,
    };
  }

  /**
   * `/user/keys/query` from another server: the keys of this server's users only (any other is
   * 400 M_INVALID_PARAM), with the signatures their owners made; no user-signing keys.
   */
  async queryForServer(
    deviceKeys: Readonly<Record<string, readonly string[]>>,
  ): Promise<LocalKeysForServer> {
    const userIds = Object.keys(deviceKeys);
    if (userIds.length > MAX_QUERIED_USERS) {
      throw tooLarge(`At most ${MAX_QUERIED_USERS} users per query`);
    }
    requireLocalUsers(userIds, this.serverName);
    const { device_keys, master_keys, self_signing_keys } = await this.#queryLocal(
      deviceKeys,
      undefined,
    );
    return { device_keys, master_keys, self_signing_keys };
  }

  /**
   * `GET /user/devices/{userId}` from another server: every device of a local user that has
   * identity keys, with its display name, and the user's master and self-signing keys.
   * `stream_id` is the device-list stream's position (odd, as in the `m.device_list_update`
   * EDUs this server sends), so that it grows with every change.
   */
  async devicesForServer(userId: string): Promise<JsonObject> {
    const keys = await this.#queryLocal({ [userId]: [] }, undefined);
    const position = await this.db.read(
      async (db) => (await selectSequenceValues(db, ['device_lists'])).device_lists,
    );
    const devices = Object.entries(keys.device_keys[userId] ?? {}).map(([deviceId, stored]) => {
      const { unsigned, ...deviceKeys } = stored;
      const device: JsonObject = { device_id: deviceId, keys: deviceKeys };
      const name = (unsigned as JsonObject | undefined)?.['device_display_name'];
      if (typeof name === 'string') device['device_display_name'] = name;
      return device;
    });
    const response: JsonObject = { user_id: userId, stream_id: position * 2 + 1, devices };
    const master = keys.master_keys[userId];
    const selfSigning = keys.self_signing_keys[userId];
    if (master !== undefined) response['master_key'] = master;
    if (selfSigning !== undefined) response['self_signing_key'] = selfSigning;
    return response;
  }

  /**
   * The keys of local users. `requesterId`: the local user asking (who also sees their own
   * user-signing key and the signatures they made), undefined for another server.
   */
  async #queryLocal(
    deviceKeys: Readonly<Record<string, readonly string[]>>,
    requesterId: string | undefined,
  ): Promise<Omit<KeyQueryResponse, 'failures'>> {
    const local = Object.keys(deviceKeys);
    const response: Omit<KeyQueryResponse, 'failures'> = {
      device_keys: {},
      master_keys: {},
      self_signing_keys: {},
      user_signing_keys: {},
    };
    if (local.length === 0) return response;
    const viewers = requesterId === undefined ? [] : [requesterId];
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
      if (requesterId !== undefined && local.includes(requesterId)) {
        crossSigning.push(...(await selectCrossSigningKeys(db, [requesterId], ['user_signing'])));
      }
      for (const key of crossSigning) {
        const target = sectionOf(response, key.usage);
        target[key.userId] = await this.#crossSigningKey(db, key, viewers);
      }
    });
    return response;
  }

  async #crossSigningKey(
    db: Kysely<Database>,
    key: StoredCrossSigningKey,
    viewers: readonly string[],
  ): Promise<JsonObject> {
    const stored = JSON.parse(key.keyJson) as JsonObject;
    if (key.usage !== 'master') return stored;
    const signatures = await selectKeySignatures(
      db,
      key.userId,
      [key.publicKey],
      [key.userId, ...viewers],
    );
    return withSignatures(stored, signatures);
  }
}

function sectionOf(
  response: Omit<KeyQueryResponse, 'failures'>,
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
