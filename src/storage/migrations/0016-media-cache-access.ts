import { sql, type Kysely } from 'kysely';

/**
 * Two media cache changes:
 *
 * - `remote_media_cache.last_access_ts`: when cached remote media was last served (updated at
 *   most once an hour per item), so that media nobody asked for in a long time is evicted
 *   (`remote_media_lifetime_days`). Existing rows start at their fetch time.
 * - `media_thumbnails.animated` (0/1) in the key: an animated and a still thumbnail of the same
 *   size and method are two cached thumbnails. SQLite cannot change a primary key in place, so
 *   the table is copied into a new one (existing thumbnails are still ones: 0).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('remote_media_cache')
    .addColumn('last_access_ts', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await sql`update remote_media_cache set last_access_ts = fetched_ts`.execute(db);
  await db.schema
    .createIndex('remote_media_cache_last_access')
    .on('remote_media_cache')
    .column('last_access_ts')
    .execute();

  await db.schema
    .createTable('media_thumbnails_keyed')
    .addColumn('media_id', 'text', (col) => col.notNull())
    .addColumn('width', 'integer', (col) => col.notNull())
    .addColumn('height', 'integer', (col) => col.notNull())
    .addColumn('method', 'text', (col) => col.notNull())
    .addColumn('animated', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('media_thumbnails_keyed_pk', [
      'media_id',
      'width',
      'height',
      'method',
      'animated',
    ])
    .execute();
  await sql`insert into media_thumbnails_keyed
    (media_id, width, height, method, animated, content_type, size, created_ts)
    select media_id, width, height, method, 0, content_type, size, created_ts
    from media_thumbnails`.execute(db);
  await db.schema.dropTable('media_thumbnails').execute();
  await db.schema.alterTable('media_thumbnails_keyed').renameTo('media_thumbnails').execute();
}
