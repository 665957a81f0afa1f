import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Receipts and presence, each on a stream of its own (rows of `sequences`). Typing is not
 * stored: it is ephemeral and lives in the memory of the tenant instance. No foreign keys to
 * `users`: receipts and presence of remote users will be stored here too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One receipt per (room, type, user, thread); thread_id is '' for an unthreaded receipt,
  // `main` or a thread root's event ID otherwise. `data` is the receipt's JSON as clients get
  // it under the user ID (`ts`, `thread_id`).
  await db.schema
    .createTable('receipts')
    .addColumn('room_id', 'text', (col) => col.notNull())
    .addColumn('receipt_type', 'text', (col) => col.notNull())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('thread_id', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('data', 'text', (col) => col.notNull())
    .addColumn('stream_id', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('receipts_pkey', ['room_id', 'receipt_type', 'user_id', 'thread_id'])
    .execute();
  // Sync reads "receipts of these rooms after position N".
  await db.schema
    .createIndex('receipts_room_id_stream_id')
    .on('receipts')
    .columns(['room_id', 'stream_id'])
    .execute();

  await db.schema
    .createTable('presence')
    .addColumn('user_id', 'text', (col) => col.primaryKey().notNull())
    // online, unavailable or offline.
    .addColumn('presence', 'text', (col) => col.notNull())
    .addColumn('status_msg', 'text')
    .addColumn('last_active_ts', 'bigint', (col) => col.notNull())
    .addColumn('currently_active', 'integer', (col) => col.notNull())
    .addColumn('stream_id', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('presence_stream_id').on('presence').column('stream_id').execute();

  await sql`insert into sequences (name, last_value) values ('receipts', 0), ('presence', 0)`.execute(
    db,
  );
}
