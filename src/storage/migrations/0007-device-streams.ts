import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * The two device streams of a sync token (rows of `sequences`): the to-device inbox (messages
 * waiting for a device until its next sync acknowledges them) and device-list changes (which
 * users' devices changed, for `device_lists.changed`). Also the transaction IDs of
 * `/sendToDevice`, so that a retried request does not deliver its messages twice.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per message and target device. A send takes one stream position for all its
  // messages: a device gets at most one message of a send, so (device, position) is unique and
  // a sync can stop after any position.
  await db.schema
    .createTable('to_device_inbox')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('stream_id', 'bigint', (col) => col.notNull())
    .addColumn('sender', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    // The message content as JSON text.
    .addColumn('content', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('to_device_inbox_pkey', ['user_id', 'device_id', 'stream_id'])
    .execute();

  // The spec scopes a transaction ID to the sending device and the request path: `scope` is
  // the path without the ID (`/sendToDevice/{eventType}`). Old rows are pruned by age.
  await db.schema
    .createTable('to_device_txn_ids')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('txn_id', 'text', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('to_device_txn_ids_pkey', ['user_id', 'device_id', 'scope', 'txn_id'])
    .execute();

  // One row per change of a user's device list (a device created, renamed or deleted; later
  // their keys), each at its own position of the `device_lists` stream.
  await db.schema
    .createTable('device_list_changes')
    .addColumn('stream_id', 'bigint', (col) => col.primaryKey().notNull())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .execute();
  // "Did these users' devices change after position N?"
  await db.schema
    .createIndex('device_list_changes_user_id_stream_id')
    .on('device_list_changes')
    .columns(['user_id', 'stream_id'])
    .execute();

  await sql`insert into sequences (name, last_value) values ('to_device', 0), ('device_lists', 0)`.execute(
    db,
  );
}
