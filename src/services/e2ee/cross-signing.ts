/**
 * `POST /keys/device_signing/upload` (client-server API "Cross-signing"): a user publishes their
 * master, self-signing and user-signing keys. The self-signing and user-signing keys must be
 * signed by the master key (the one uploaded with them, or else the stored one).
 *
 * User-interactive auth guards replacing keys (spec v1.11): it is skipped when the user has no
 * master key yet, and when the request holds the stored master key and only keys equal to the
 * stored ones (a retried upload), which then changes nothing.
 */
import { MatrixError, forbidden, missingParam } from '../../core/errors.js';
import { verifyJsonSignature } from '../../protocol/signing.js';
import { selectDevices } from '../../storage/accounts/devices.js';
import {
  deleteCrossSigningOfUser,
  insertMasterKeyIfAbsent,
  selectCrossSigningKeysOfUser,
  upsertCrossSigningKey,
  type CrossSigningUsage,
  type StoredCrossSigningKey,
} from '../../storage/e2ee/cross-signing-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { DeviceLists } from '../devices/device-lists.js';
import type {
  AuthData,
  UiaAuthorisation,
  UserInteractiveAuth,
} from '../user-interactive-auth/user-interactive-auth.js';
import {
  ED25519,
  canonicalKeyJson,
  crossSigningPublicKey,
  withoutUnsigned,
  type CrossSigningKeyObject,
} from './key-shapes.js';

export const DEVICE_SIGNING_UPLOAD_ACTION = 'POST /keys/device_signing/upload';

export interface CrossSigningUploadRequest {
  master_key?: CrossSigningKeyObject | undefined;
  self_signing_key?: CrossSigningKeyObject | undefined;
  user_signing_key?: CrossSigningKeyObject | undefined;
  auth?: AuthData | null | undefined;
}

const FIELDS = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
} as const satisfies Record<CrossSigningUsage, keyof CrossSigningUploadRequest>;

export class CrossSigning {
  constructor(
    private readonly db: TenantDatabase,
    private readonly deviceLists: DeviceLists,
    private readonly uia: UserInteractiveAuth,
  ) {}

  async upload(userId: string, request: CrossSigningUploadRequest): Promise<void> {
    const uploaded: StoredCrossSigningKey[] = [];
    for (const usage of Object.keys(FIELDS) as CrossSigningUsage[]) {
      const key = request[FIELDS[usage]];
      if (key === undefined) continue;
      const publicKey = crossSigningPublicKey(key, userId, usage);
      uploaded.push({ userId, usage, publicKey, keyJson: canonicalKeyJson(withoutUnsigned(key)) });
    }
    if (uploaded.length === 0) return;

    const { stored, deviceIds } = await this.db.read(async (db) => ({
      stored: await selectCrossSigningKeysOfUser(db, userId),
      deviceIds: new Set((await selectDevices(db, userId)).map((device) => device.device_id)),
    }));
    // Clients verify a master key as if it were a device named by its public key.
    if (uploaded.some((key) => deviceIds.has(key.publicKey))) {
      throw forbidden('Key ID in use: a device of yours has this ID');
    }
    const master = uploaded.find((key) => key.usage === 'master') ?? stored.get('master');
    for (const key of uploaded) {
      if (key.usage === 'master') continue;
      if (master === undefined) {
        throw missingParam('No master key is available to check the signature with');
      }
      const signingKeyId = `${ED25519}:${master.publicKey}`;
      if (!verifyJsonSignature(JSON.parse(key.keyJson), userId, signingKeyId, master.publicKey)) {
        throw new MatrixError(
          'M_INVALID_SIGNATURE',
          `The ${key.usage} key has no valid signature by the master key`,
        );
      }
    }

    let authorisation: UiaAuthorisation | undefined;
    const storedMaster = stored.get('master');
    if (storedMaster !== undefined) {
      const unchanged =
        uploaded.some((key) => key.usage === 'master') &&
        uploaded.every((key) => stored.get(key.usage)?.keyJson === key.keyJson);
      if (unchanged) return;
      authorisation = await this.uia.authorise({
        action: DEVICE_SIGNING_UPLOAD_ACTION,
        flows: await this.uia.flowsForUser(userId),
        auth: request.auth,
        userId,
      });
    }

    await this.db.transact(async (trx) => {
      await authorisation?.commit(trx);
      for (const key of uploaded) {
        // Without auth, only as the first master key: a concurrent first upload may have won.
        if (authorisation === undefined && key.usage === 'master') {
          if (!(await insertMasterKeyIfAbsent(trx, key))) {
            throw forbidden(
              'Cross-signing keys were uploaded meanwhile: replacing them needs auth',
            );
          }
        } else await upsertCrossSigningKey(trx, key);
      }
      await this.deviceLists.recordDeviceListChange(trx, userId);
    });
    await this.deviceLists.announce(userId);
  }

  /**
   * Forgets a deactivated user's cross-signing keys and the signatures of and by them (their
   * devices and device keys went with the deactivation).
   */
  async forgetUser(userId: string): Promise<void> {
    const changed = await this.db.transact(async (trx) => {
      const deleted = await deleteCrossSigningOfUser(trx, userId);
      if (deleted) await this.deviceLists.recordDeviceListChange(trx, userId);
      return deleted;
    });
    if (changed) await this.deviceLists.announce(userId);
  }
}
