import type { Kysely } from 'kysely';

/**
 * OpenID tokens (`POST /user/{userId}/openid/request_token`): a short-lived token a user hands to
 * a third party (an integration manager, a widget), which asks this server who it belongs to
 * (`GET /_matrix/federation/v1/openid/userinfo`). Kept as their SHA-256, like every token.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('openid_tokens')
    .addColumn('token_hash', 'text', (col) => col.primaryKey().notNull())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('expires_ts', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('openid_tokens_expires_ts')
    .on('openid_tokens')
    .column('expires_ts')
    .execute();
  // Deactivating a user deletes their tokens.
  await db.schema
    .createIndex('openid_tokens_user_id')
    .on('openid_tokens')
    .column('user_id')
    .execute();
}
