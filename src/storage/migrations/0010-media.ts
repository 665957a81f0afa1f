import type { Kysely } from 'kysely';

/**
 * The tenant's media repository: one row per `mxc://` URI the tenant made (the bytes live in the
 * tenant's media store, local directory or S3 bucket), and the running total of stored bytes that
 * the storage quota is checked against.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // A row is made when the content is stored (`POST /upload`) or when an ID is created for an
  // asynchronous upload (`POST /create`): then the content columns stay null, and
  // `unused_expires_ts` says until when it may be uploaded, until `PUT /upload` fills them.
  await db.schema
    .createTable('local_media')
    .addColumn('media_id', 'text', (col) => col.primaryKey())
    // The uploader (the creator, for an asynchronous upload): only they may upload to it.
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    // Null while an asynchronous upload is pending; set once the content is stored.
    .addColumn('uploaded_ts', 'bigint')
    // Pending uploads only: the last moment `PUT /upload` is accepted.
    .addColumn('unused_expires_ts', 'bigint')
    .addColumn('content_type', 'text')
    // The `filename` of the upload, if any.
    .addColumn('upload_name', 'text')
    .addColumn('size', 'bigint')
    // Hex SHA-256 of the content.
    .addColumn('sha256', 'text')
    .execute();
  // Counting a user's pending uploads.
  await db.schema
    .createIndex('local_media_user_pending')
    .on('local_media')
    .columns(['user_id', 'uploaded_ts'])
    .execute();

  // One row (id 1): the bytes of all stored media, updated with each upload in the same
  // transaction as its row, so the quota check and the reservation are one atomic statement.
  await db.schema
    .createTable('media_usage')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('total_bytes', 'bigint', (col) => col.notNull())
    .execute();
  await db
    .insertInto('media_usage' as never)
    .values({ id: 1, total_bytes: 0 } as never)
    .execute();
}
