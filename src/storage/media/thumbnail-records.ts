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

export interface ThumbnailRecord extends ThumbnailSpec {
  mediaId: string;
  contentType: string;
  size: number;
  createdTs: number;
}

export async function selectThumbnail(
  db: Kysely<Database>,
  mediaId: string,
  spec: ThumbnailSpec,
): Promise<ThumbnailRecord | undefined> {
  const row = await db
    .selectFrom('media_thumbnails')
    .selectAll()
    .where('media_id', '=', mediaId)
    .where('width', '=', spec.width)
    .where('height', '=', spec.height)
    .where('method', '=', spec.method)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    mediaId: row.media_id,
    width: Number(row.width),
    height: Number(row.height),
    method: row.method as ThumbnailMethod,
    contentType: row.content_type,
    size: Number(row.size),
    createdTs: Number(row.created_ts),
  };
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
    content_type: record.contentType,
    size: record.size,
    created_ts: record.createdTs,
  };
  await trx
    .insertInto('media_thumbnails')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['media_id', 'width', 'height', 'method']).doUpdateSet({
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
