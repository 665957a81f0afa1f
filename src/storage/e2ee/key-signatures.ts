/**
 * Signatures users add to published keys (`/keys/signatures/upload`): of a device's identity
 * keys or a master key (the target, by user ID and device ID or public key), by a signing key
 * of a user. `/keys/query` merges them into the keys it returns, filtered by who asks.
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

export interface KeySignature {
  /** The owner of the signed key. */
  userId: string;
  /** A device ID, or a master key's public key. */
  keyId: string;
  signerUserId: string;
  /** `ed25519:<device ID or public key>`. */
  signerKeyId: string;
  signature: string;
}

/** Stores signatures; a signature by the same signing key of the same key replaces the old. */
export async function upsertKeySignatures(
  trx: Kysely<Database>,
  signatures: readonly KeySignature[],
): Promise<void> {
  for (const signature of signatures) {
    await trx
      .insertInto('e2e_key_signatures')
      .values({
        user_id: signature.userId,
        key_id: signature.keyId,
        signer_user_id: signature.signerUserId,
        signer_key_id: signature.signerKeyId,
        signature: signature.signature,
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'key_id', 'signer_user_id', 'signer_key_id'])
          .doUpdateSet({ signature: signature.signature }),
      )
      .execute();
  }
}

/**
 * The signatures of some keys of a user (`keyIds`: device IDs or public keys) made by one of
 * `signerUserIds`.
 */
export async function selectKeySignatures(
  db: Kysely<Database>,
  userId: string,
  keyIds: readonly string[],
  signerUserIds: readonly string[],
): Promise<KeySignature[]> {
  const found: KeySignature[] = [];
  for (const batch of batches([...new Set(keyIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('e2e_key_signatures')
      .selectAll()
      .where('user_id', '=', userId)
      .where('key_id', 'in', batch)
      .where('signer_user_id', 'in', [...new Set(signerUserIds)])
      .orderBy('signer_user_id')
      .orderBy('signer_key_id')
      .execute();
    for (const row of rows) {
      found.push({
        userId: row.user_id,
        keyId: row.key_id,
        signerUserId: row.signer_user_id,
        signerKeyId: row.signer_key_id,
        signature: row.signature,
      });
    }
  }
  return found;
}
