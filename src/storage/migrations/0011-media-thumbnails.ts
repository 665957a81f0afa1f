import type { Kysely } from 'kysely';

/**
 * Thumbnails of the tenant's media, generated on request and cached: one row per media item and
 * thumbnail size and method; the bytes live in the tenant's media store beside the original.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('media_thumbnails')
    .addColumn('media_id', 'text', (col) => col.notNull())
    // The size asked of the generator (the box for `scale`, the exact size for `crop`); the image
    // may be smaller (never enlarged).
    .addColumn('width', 'integer', (col) => col.notNull())
    .addColumn('height', 'integer', (col) => col.notNull())
    // `crop` or `scale`.
    .addColumn('method', 'text', (col) => col.notNull())
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('created_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('media_thumbnails_pk', ['media_id', 'width', 'height', 'method'])
    .execute();
}
