/**
 * Queries of `media_thumbnails`: which thumbnails of a media item are cached in the tenant's
 * media store (their bytes are stored beside the original's).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export type ThumbnailMethod = 'crop' | 'scale';

/** What a thumbnail was asked to be: the cache key, with the media ID. */
export interface ThumbnailSpec {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** What a cached thumbnail is keyed by besides its media: its spec, and whether it is animated. */
export interface ThumbnailKey extends ThumbnailSpec {
  animated: boolean;
}

export interface ThumbnailRecord extends ThumbnailKey {
  mediaId: string;
  contentType: string;
  size: number;
  createdTs: number;
}

export async function selectThumbnail(
  db: Kysely<Database>,
  mediaId: string,
  key: ThumbnailKey,
): Promise<ThumbnailRecord | undefined> {
  const row = await db
    .selectFrom('media_thumbnails')
    .selectAll()
    .where('media_id', '=', mediaId)
    .where('width', '=', key.width)
    .where('height', '=', key.height)
    .where('method', '=', key.method)
    .where('animated', '=', key.animated ? 1 : 0)
    .executeTakeFirst();
  return row === undefined ? undefined : thumbnailRecordOf(row);
}

function thumbnailRecordOf(row: Database['media_thumbnails']): ThumbnailRecord {
  return {
    mediaId: row.media_id,
    width: Number(row.width),
    height: Number(row.height),
    method: row.method as ThumbnailMethod,
    animated: Number(row.animated) === 1,
    contentType: row.content_type,
    size: Number(row.size),
    createdTs: Number(row.created_ts),
  };
}

/** Every cached thumbnail of a media item. */
export async function selectThumbnailsOf(
  db: Kysely<Database>,
  mediaId: string,
): Promise<ThumbnailRecord[]> {
  const rows = await db
    .selectFrom('media_thumbnails')
    .selectAll()
    .where('media_id', '=', mediaId)
    .execute();
  return rows.map(thumbnailRecordOf);
}

/** Forgets every cached thumbnail of a media item (their bytes are the caller's to delete). */
export async function deleteThumbnailsOf(db: Kysely<Database>, mediaId: string): Promise<void> {
  await db.deleteFrom('media_thumbnails').where('media_id', '=', mediaId).execute();
}

/**
 * Records a stored thumbnail. Two requests that generated the same one side by side store the
 * same key; the later row replaces the earlier (its bytes are the ones now in the store).
 */
export async function upsertThumbnail(
  trx: Kysely<Database>,
  record: ThumbnailRecord,
): Promise<void> {
  const values = {
    media_id: record.mediaId,
    width: record.width,
    height: record.height,
    method: record.method,
    animated: record.animated ? 1 : 0,
    content_type: record.contentType,
    size: record.size,
    created_ts: record.createdTs,
  };
  await trx
    .insertInto('media_thumbnails')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['media_id', 'width', 'height', 'method', 'animated']).doUpdateSet({
        content_type: values.content_type,
        size: values.size,
        created_ts: values.created_ts,
      }),
    )
    .execute();
}

/** How many thumbnails of a media item are cached. */
export async function countThumbnails(db: Kysely<Database>, mediaId: string): Promise<number> {
  const row = await db
    .selectFrom('media_thumbnails')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where('media_id', '=', mediaId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
