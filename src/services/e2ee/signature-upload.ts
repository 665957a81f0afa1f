/**
 * `POST /keys/signatures/upload` (client-server API "Cross-signing"): a user adds signatures to
 * published keys. Accepted are signatures
 * - of the user's own devices, by their self-signing key;
 * - of the user's own master key, by one of their devices;
 * - of another user's master key, by the user's user-signing key.
 * The signed object must be the stored key (but for `signatures` and `unsigned`) and every
 * signature is checked. Each key that fails gets its own entry in `failures`; the others are
 * stored, in one transaction, and change the signer's device list.
 */
import type { Kysely } from 'kysely';
import type { JsonObject } from '../../core/canonical-json.js';
import { tooLarge, type Errcode } from '../../core/errors.js';
import { verifyJsonSignature } from '../../protocol/signing.js';
import {
  selectCrossSigningKeys,
  type StoredCrossSigningKey,
} from '../../storage/e2ee/cross-signing-keys.js';
import { selectDeviceKeysOfUser } from '../../storage/e2ee/device-keys.js';
import { upsertKeySignatures, type KeySignature } from '../../storage/e2ee/key-signatures.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { DeviceLists } from '../devices/device-lists.js';
import { ED25519, sameKeyContent } from './key-shapes.js';
import { splitUsersByServer } from './user-servers.js';

/** At most this many signed keys per request. */
export const MAX_SIGNED_KEYS_PER_UPLOAD = 1000;

export interface SignatureFailure {
  errcode: Errcode;
  error: string;
}

export interface SignatureUploadResponse {
  failures: Record<string, Record<string, SignatureFailure>>;
}

/** A key that cannot get the signature, with why. */
class Rejected {
  constructor(
    readonly errcode: Errcode,
    readonly error: string,
  ) {}
}

/** What the signer has to sign with and what can be signed. */
interface SigningContext {
  signerId: string;
  own: Map<string, StoredCrossSigningKey>;
  /** The signer's devices' identity keys by device ID. */
  ownDevices: Map<string, JsonObject>;
  /** Master keys of the local users signed for, by user ID. */
  masters: Map<string, StoredCrossSigningKey>;
}

export class SignatureUpload {
  constructor(
    private readonly db: TenantDatabase,
    private readonly deviceLists: DeviceLists,
    private readonly serverName: string,
  ) {}

  /** `request`: user ID → key ID (device ID or master public key) → signed key object. */
  async upload(
    signerId: string,
    request: Readonly<Record<string, Readonly<Record<string, JsonObject>>>>,
  ): Promise<SignatureUploadResponse> {
    const count = Object.values(request).reduce((n, keys) => n + Object.keys(keys).length, 0);
    if (count > MAX_SIGNED_KEYS_PER_UPLOAD) {
      throw tooLarge(`At most ${MAX_SIGNED_KEYS_PER_UPLOAD} signed keys per request`);
    }
    const { local } = splitUsersByServer(Object.keys(request), this.serverName);
    const failures: SignatureUploadResponse['failures'] = {};
    const fail = (userId: string, keyId: string, rejected: Rejected) => {
      failures[userId] = {
        ...failures[userId],
        [keyId]: { errcode: rejected.errcode, error: rejected.error },
      };
    };
    for (const [userId, keys] of Object.entries(request)) {
      if (local.includes(userId)) continue;
      for (const keyId of Object.keys(keys)) {
        fail(userId, keyId, new Rejected('M_UNKNOWN', 'Users of other servers: no federation yet'));
      }
    }

    const stored = await this.db.read((db) => this.#context(db, signerId, local));
    const accepted: KeySignature[] = [];
    for (const userId of local) {
      for (const [keyId, signed] of Object.entries(request[userId] ?? {})) {
        const outcome =
          userId === signerId
            ? checkOwnKey(stored, keyId, signed)
            : checkOtherMasterKey(stored, userId, keyId, signed);
        if (outcome instanceof Rejected) fail(userId, keyId, outcome);
        else accepted.push(...outcome);
      }
    }
    if (accepted.length > 0) {
      await this.db.transact(async (trx) => {
        await upsertKeySignatures(trx, accepted);
        await this.deviceLists.recordDeviceListChange(trx, signerId);
      });
      await this.deviceLists.announce(signerId);
    }
    return { failures };
  }

  async #context(
    db: Kysely<Database>,
    signerId: string,
    localUserIds: readonly string[],
  ): Promise<SigningContext> {
    const own = new Map(
      (
        await selectCrossSigningKeys(db, [signerId], ['master', 'self_signing', 'user_signing'])
      ).map((key) => [key.usage, key]),
    );
    const ownDevices = new Map(
      (await selectDeviceKeysOfUser(db, signerId)).map((device) => [
        device.deviceId,
        JSON.parse(device.keyJson) as JsonObject,
      ]),
    );
    const others = localUserIds.filter((id) => id !== signerId);
    const masters = new Map(
      (await selectCrossSigningKeys(db, others, ['master'])).map((key) => [key.userId, key]),
    );
    return { signerId, own, ownDevices, masters };
  }
}

/** Signatures of the signer's own device (by the self-signing key) or master key (by devices). */
function checkOwnKey(
  context: SigningContext,
  keyId: string,
  signed: JsonObject,
): KeySignature[] | Rejected {
  const { signerId, own, ownDevices } = context;
  const signatures = signaturesBy(signed, signerId);
  const device = ownDevices.get(keyId);
  if (device !== undefined) {
    const selfSigning = own.get('self_signing');
    if (selfSigning === undefined) {
      return new Rejected('M_INVALID_SIGNATURE', 'You have no self-signing key');
    }
    if (!sameKeyContent(signed, device)) {
      return new Rejected('M_INVALID_SIGNATURE', 'The signed object is not the device key');
    }
    const signerKeyId = `${ED25519}:${selfSigning.publicKey}`;
    const signature = signatures.get(signerKeyId);
    if (
      signature === undefined ||
      !verifyJsonSignature(signed, signerId, signerKeyId, selfSigning.publicKey)
    ) {
      return new Rejected('M_INVALID_SIGNATURE', 'No valid signature by your self-signing key');
    }
    return [{ userId: signerId, keyId, signerUserId: signerId, signerKeyId, signature }];
  }

  const master = own.get('master');
  if (master === undefined || master.publicKey !== keyId) {
    return new Rejected('M_NOT_FOUND', 'Unknown key: not one of your devices or your master key');
  }
  if (!sameKeyContent(signed, JSON.parse(master.keyJson) as JsonObject)) {
    return new Rejected('M_INVALID_SIGNATURE', 'The signed object is not your master key');
  }
  const accepted: KeySignature[] = [];
  for (const [signerKeyId, signature] of signatures) {
    const deviceId = signerKeyId.startsWith(`${ED25519}:`)
      ? signerKeyId.slice(ED25519.length + 1)
      : '';
    const signerDevice = ownDevices.get(deviceId);
    if (signerDevice === undefined) continue; // e.g. the master key's own signature
    const publicKey = (signerDevice['keys'] as Record<string, string> | undefined)?.[signerKeyId];
    if (publicKey === undefined || !verifyJsonSignature(signed, signerId, signerKeyId, publicKey)) {
      return new Rejected('M_INVALID_SIGNATURE', `Invalid signature by ${signerKeyId}`);
    }
    accepted.push({ userId: signerId, keyId, signerUserId: signerId, signerKeyId, signature });
  }
  if (accepted.length === 0) {
    return new Rejected('M_INVALID_SIGNATURE', 'No signature by one of your devices');
  }
  return accepted;
}

/** A signature of another user's master key by the signer's user-signing key. */
function checkOtherMasterKey(
  context: SigningContext,
  userId: string,
  keyId: string,
  signed: JsonObject,
): KeySignature[] | Rejected {
  const master = context.masters.get(userId);
  if (master === undefined || master.publicKey !== keyId) {
    return new Rejected('M_NOT_FOUND', "Unknown key: only other users' master keys can be signed");
  }
  if (!sameKeyContent(signed, JSON.parse(master.keyJson) as JsonObject)) {
    return new Rejected('M_INVALID_SIGNATURE', "The signed object is not the user's master key");
  }
  const userSigning = context.own.get('user_signing');
  if (userSigning === undefined) {
    return new Rejected('M_INVALID_SIGNATURE', 'You have no user-signing key');
  }
  const { signerId } = context;
  const signerKeyId = `${ED25519}:${userSigning.publicKey}`;
  const signature = signaturesBy(signed, signerId).get(signerKeyId);
  if (
    signature === undefined ||
    !verifyJsonSignature(signed, signerId, signerKeyId, userSigning.publicKey)
  ) {
    return new Rejected('M_INVALID_SIGNATURE', 'No valid signature by your user-signing key');
  }
  return [{ userId, keyId, signerUserId: signerId, signerKeyId, signature }];
}

/** The signatures in `signed` by `userId`, by key ID (string values only). */
function signaturesBy(signed: JsonObject, userId: string): Map<string, string> {
  const found = new Map<string, string>();
  const all = signed['signatures'];
  if (typeof all !== 'object' || all === null || Array.isArray(all)) return found;
  if (!Object.hasOwn(all, userId)) return found;
  const mine = all[userId];
  if (typeof mine !== 'object' || mine === null || Array.isArray(mine)) return found;
  for (const [keyId, signature] of Object.entries(mine)) {
    if (typeof signature === 'string') found.set(keyId, signature);
  }
  return found;
}
