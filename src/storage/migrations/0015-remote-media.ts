import type { Kysely } from 'kysely';

/**
 * Other servers' media fetched over federation and kept in the tenant's media store, so that a
 * second download is served locally: one row per `mxc://origin/media_id`. `cache_id` is a fresh
 * media ID naming the cached bytes (`remote/AB/CD/REST`) and their thumbnails.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('remote_media_cache')
    .addColumn('origin', 'text', (col) => col.notNull())
    .addColumn('media_id', 'text', (col) => col.notNull())
    .addColumn('cache_id', 'text', (col) => col.notNull().unique())
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('upload_name', 'text')
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('sha256', 'text', (col) => col.notNull())
    .addColumn('fetched_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('remote_media_cache_pk', ['origin', 'media_id'])
    .execute();
}
