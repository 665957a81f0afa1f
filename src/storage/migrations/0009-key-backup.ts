import type { Kysely } from 'kysely';

/**
 * Server-side key backups (spec: "Server-side key backups"): each user's backup versions and the
 * encrypted room keys stored in them. The server never reads `auth_data` or `session_data`; it
 * only keeps them and applies the spec's rule for which copy of a session key to keep.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per backup version a user created. Versions are numbered per user and never reused:
  // a deleted version keeps its row (marked `deleted`, its keys gone) so that deleting it again
  // still succeeds and the next version gets a higher number.
  await db.schema
    .createTable('key_backup_versions')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('version', 'bigint', (col) => col.notNull())
    .addColumn('algorithm', 'text', (col) => col.notNull())
    // JSON text; emptied (`{}`) once the version is deleted.
    .addColumn('auth_data', 'text', (col) => col.notNull())
    // Bumped whenever the version's keys change; clients compare it to notice other writers.
    .addColumn('etag', 'bigint', (col) => col.notNull())
    .addColumn('deleted', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('key_backup_versions_pkey', ['user_id', 'version'])
    .execute();

  // One encrypted session key per (version, room, session). The primary key's prefix serves
  // the per-version and per-room reads, counts and deletes.
  await db.schema
    .createTable('key_backup_sessions')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('version', 'bigint', (col) => col.notNull())
    .addColumn('room_id', 'text', (col) => col.notNull())
    .addColumn('session_id', 'text', (col) => col.notNull())
    .addColumn('first_message_index', 'bigint', (col) => col.notNull())
    .addColumn('forwarded_count', 'bigint', (col) => col.notNull())
    .addColumn('is_verified', 'integer', (col) => col.notNull())
    // JSON text.
    .addColumn('session_data', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('key_backup_sessions_pkey', [
      'user_id',
      'version',
      'room_id',
      'session_id',
    ])
    .execute();
}
