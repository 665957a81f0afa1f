import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Accounts: users and their profiles, devices, access / refresh / login tokens (stored as SHA-256
 * hashes only), user-interactive auth sessions, registration tokens, account data and filters.
 * Flags are `integer` 0/1 (better-sqlite3 cannot bind booleans); times are milliseconds since
 * the epoch in `bigint` columns.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('user_id', 'text', (col) => col.primaryKey().notNull())
    // Null: the account has no password (guests, deactivated accounts).
    .addColumn('password_hash', 'text')
    .addColumn('is_admin', 'integer', (col) => col.notNull())
    .addColumn('is_guest', 'integer', (col) => col.notNull())
    .addColumn('deactivated', 'integer', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .execute();
  // Login finds users by localpart case-insensitively, as Synapse does.
  await db.schema
    .createIndex('users_lower_user_id')
    .on('users')
    .expression(sql`lower(user_id)`)
    .execute();

  await db.schema
    .createTable('profiles')
    .addColumn('user_id', 'text', (col) => col.primaryKey().notNull().references('users.user_id'))
    .addColumn('displayname', 'text')
    .addColumn('avatar_url', 'text')
    .execute();

  await db.schema
    .createTable('devices')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.user_id'))
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('display_name', 'text')
    .addColumn('last_seen_ts', 'bigint')
    .addColumn('last_seen_ip', 'text')
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('devices_pkey', ['user_id', 'device_id'])
    .execute();

  // A refresh token belongs to a device. next_token_id names the token that replaced it, until
  // the replacement is first used and this one is deleted (spec: "Refreshing access tokens").
  // No foreign key on next_token_id: the replacement may be deleted first.
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'text', (col) => col.primaryKey().notNull())
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('next_token_id', 'text')
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addForeignKeyConstraint('refresh_tokens_device_fkey', ['user_id', 'device_id'], 'devices', [
      'user_id',
      'device_id',
    ])
    .execute();
  await db.schema
    .createIndex('refresh_tokens_next_token_id')
    .on('refresh_tokens')
    .column('next_token_id')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_device')
    .on('refresh_tokens')
    .columns(['user_id', 'device_id'])
    .execute();

  // Only the SHA-256 of a token is stored: a leaked database holds no usable token.
  await db.schema
    .createTable('access_tokens')
    .addColumn('token_hash', 'text', (col) => col.primaryKey().notNull())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    // Null: never expires (sessions of clients that did not ask for refresh tokens).
    .addColumn('expires_ts', 'bigint')
    .addColumn('refresh_token_id', 'text', (col) => col.references('refresh_tokens.id'))
    .addForeignKeyConstraint('access_tokens_device_fkey', ['user_id', 'device_id'], 'devices', [
      'user_id',
      'device_id',
    ])
    .execute();
  await db.schema
    .createIndex('access_tokens_device')
    .on('access_tokens')
    .columns(['user_id', 'device_id'])
    .execute();
  await db.schema
    .createIndex('access_tokens_refresh_token_id')
    .on('access_tokens')
    .column('refresh_token_id')
    .execute();

  await db.schema
    .createTable('login_tokens')
    .addColumn('token_hash', 'text', (col) => col.primaryKey().notNull())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.user_id'))
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addColumn('expires_ts', 'bigint', (col) => col.notNull())
    .execute();

  // Kept in the database so that an auth flow survives a tenant restart or a move.
  await db.schema
    .createTable('uia_sessions')
    .addColumn('session_id', 'text', (col) => col.primaryKey().notNull())
    // What the session authorises, e.g. "POST /account/password"; another request may not use it.
    .addColumn('action', 'text', (col) => col.notNull())
    // The user being authenticated: the access token's, or the one a password stage proved.
    .addColumn('user_id', 'text')
    // JSON array of the stage types completed, in order.
    .addColumn('completed', 'text', (col) => col.notNull())
    // A registration token this session holds as `pending` until the registration completes.
    .addColumn('registration_token', 'text')
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('uia_sessions_created_ts')
    .on('uia_sessions')
    .column('created_ts')
    .execute();

  await db.schema
    .createTable('registration_tokens')
    .addColumn('token', 'text', (col) => col.primaryKey().notNull())
    // Null: unlimited.
    .addColumn('uses_allowed', 'integer')
    // Registrations that completed the token stage but not yet the registration itself.
    .addColumn('pending', 'integer', (col) => col.notNull())
    .addColumn('completed', 'integer', (col) => col.notNull())
    // Null: never expires.
    .addColumn('expiry_time', 'bigint')
    .execute();

  // room_id is '' for global account data.
  await db.schema
    .createTable('account_data')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.user_id'))
    .addColumn('room_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('content', 'text', (col) => col.notNull())
    .addColumn('stream_id', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('account_data_pkey', ['user_id', 'room_id', 'type'])
    .execute();
  // Sync reads "what changed for this user since position N".
  await db.schema
    .createIndex('account_data_user_id_stream_id')
    .on('account_data')
    .columns(['user_id', 'stream_id'])
    .execute();
  // The account data stream is one of the per-tenant counters of `sequences` (0002).
  await sql`insert into sequences (name, last_value) values ('account_data', 0)`.execute(db);

  await db.schema
    .createTable('filters')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.user_id'))
    .addColumn('filter_id', 'text', (col) => col.notNull())
    // The filter as canonical JSON, so an identical upload finds the existing one. Not indexed:
    // PostgreSQL b-tree entries are limited to a few KiB, and a user has few filters.
    .addColumn('filter_json', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('filters_pkey', ['user_id', 'filter_id'])
    .execute();
}
