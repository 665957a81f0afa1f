import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * End-to-end encryption keys (client-server API "End-to-end encryption"): each device's identity
 * keys, its one-time and fallback keys waiting to be claimed, each user's cross-signing keys, and
 * the signatures users add to keys afterwards. The server never holds a private key: it stores
 * what clients publish and hands it to other clients.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per device that published identity keys: the object as uploaded (JSON text, without
  // `unsigned`), including the device's own signature.
  await db.schema
    .createTable('e2e_device_keys')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('key_json', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('e2e_device_keys_pkey', ['user_id', 'device_id'])
    .execute();

  // One-time keys not yet claimed; a claim deletes its row. `upload_id` orders uploads (keys of
  // one upload share it), so keys are given out oldest upload first, as the spec asks.
  await db.schema
    .createTable('e2e_one_time_keys')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('algorithm', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text', (col) => col.notNull())
    .addColumn('key_json', 'text', (col) => col.notNull())
    .addColumn('upload_id', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('e2e_one_time_keys_pkey', [
      'user_id',
      'device_id',
      'algorithm',
      'key_id',
    ])
    .execute();
  // "The oldest key of this device and algorithm" for claims.
  await db.schema
    .createIndex('e2e_one_time_keys_claim_order')
    .on('e2e_one_time_keys')
    .columns(['user_id', 'device_id', 'algorithm', 'upload_id'])
    .execute();
  await sql`insert into sequences (name, last_value) values ('one_time_key_uploads', 0)`.execute(
    db,
  );

  // At most one fallback key per device and algorithm; a claim marks it used, never deletes it.
  await db.schema
    .createTable('e2e_fallback_keys')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('algorithm', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text', (col) => col.notNull())
    .addColumn('key_json', 'text', (col) => col.notNull())
    .addColumn('used', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('e2e_fallback_keys_pkey', ['user_id', 'device_id', 'algorithm'])
    .execute();

  // A user's current cross-signing keys, one per usage (`master`, `self_signing`,
  // `user_signing`); an upload replaces the key of its usage. `public_key` is the key's
  // unpadded base64 ed25519 public key, the "key ID" signatures are uploaded under.
  await db.schema
    .createTable('e2e_cross_signing_keys')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('usage', 'text', (col) => col.notNull())
    .addColumn('public_key', 'text', (col) => col.notNull())
    .addColumn('key_json', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('e2e_cross_signing_keys_pkey', ['user_id', 'usage'])
    .execute();

  // Signatures added by `/keys/signatures/upload`: of the key `key_id` of `user_id` (a device ID,
  // or a master key's public key) by `signer_key_id` of `signer_user_id`. Kept apart from the
  // keys because who may see a signature depends on who asks (a user-signing key's signatures
  // are shown only to its owner).
  await db.schema
    .createTable('e2e_key_signatures')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text', (col) => col.notNull())
    .addColumn('signer_user_id', 'text', (col) => col.notNull())
    .addColumn('signer_key_id', 'text', (col) => col.notNull())
    .addColumn('signature', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('e2e_key_signatures_pkey', [
      'user_id',
      'key_id',
      'signer_user_id',
      'signer_key_id',
    ])
    .execute();
}
