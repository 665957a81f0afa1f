/**
 * Users' cross-signing keys (`/keys/device_signing/upload`): one current key per user and usage
 * (`master`, `self_signing`, `user_signing`); an upload replaces the key of its usage.
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export interface StoredCrossSigningKey {
  userId: string;
  usage: CrossSigningUsage;
  /** Unpadded base64 ed25519 public key. */
  publicKey: string;
  /** The uploaded object as JSON text. */
  keyJson: string;
}

/** The cross-signing keys of some users, of the given usages. */
export async function selectCrossSigningKeys(
  db: Kysely<Database>,
  userIds: readonly string[],
  usages: readonly CrossSigningUsage[],
): Promise<StoredCrossSigningKey[]> {
  const found: StoredCrossSigningKey[] = [];
  if (usages.length === 0) return found;
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('e2e_cross_signing_keys')
      .select(['user_id', 'usage', 'public_key', 'key_json'])
      .where('user_id', 'in', batch)
      .where('usage', 'in', [...usages])
      .execute();
    for (const row of rows) {
      found.push({
        userId: row.user_id,
        usage: row.usage as CrossSigningUsage,
        publicKey: row.public_key,
        keyJson: row.key_json,
      });
    }
  }
  return found;
}

/** One user's cross-signing keys by usage. */
export async function selectCrossSigningKeysOfUser(
  db: Kysely<Database>,
  userId: string,
): Promise<Map<CrossSigningUsage, StoredCrossSigningKey>> {
  const keys = await selectCrossSigningKeys(
    db,
    [userId],
    ['master', 'self_signing', 'user_signing'],
  );
  return new Map(keys.map((key) => [key.usage, key]));
}

/** Stores (or replaces) a user's cross-signing key of one usage. */
export async function upsertCrossSigningKey(
  trx: Kysely<Database>,
  key: StoredCrossSigningKey,
): Promise<void> {
  await trx
    .insertInto('e2e_cross_signing_keys')
    .values({
      user_id: key.userId,
      usage: key.usage,
      public_key: key.publicKey,
      key_json: key.keyJson,
    })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'usage'])
        .doUpdateSet({ public_key: key.publicKey, key_json: key.keyJson }),
    )
    .execute();
}

/**
 * Deletes a user's cross-signing keys and every signature of their keys or by them (account
 * deactivation); returns whether there was anything.
 */
export async function deleteCrossSigningOfUser(
  trx: Kysely<Database>,
  userId: string,
): Promise<boolean> {
  const keys = await trx
    .deleteFrom('e2e_cross_signing_keys')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const own = await trx
    .deleteFrom('e2e_key_signatures')
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const by = await trx
    .deleteFrom('e2e_key_signatures')
    .where('signer_user_id', '=', userId)
    .executeTakeFirst();
  return [keys, own, by].some((result) => Number(result.numDeletedRows) > 0);
}

/**
 * Stores a user's first master key: returns false, storing nothing, when the user has one
 * already (another upload got there first).
 */
export async function insertMasterKeyIfAbsent(
  trx: Kysely<Database>,
  key: StoredCrossSigningKey,
): Promise<boolean> {
  const result = await trx
    .insertInto('e2e_cross_signing_keys')
    .values({
      user_id: key.userId,
      usage: key.usage,
      public_key: key.publicKey,
      key_json: key.keyJson,
    })
    .onConflict((oc) => oc.columns(['user_id', 'usage']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}
