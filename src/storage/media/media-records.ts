/**
 * Queries of the media tables: the tenant's media items (`local_media`) and the running total of
 * stored bytes (`media_usage`) that the storage quota is checked against. The bytes themselves
 * live in the tenant's `MediaStore`.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** A media item as stored. The content fields are null while an asynchronous upload is pending. */
export interface MediaRecord {
  mediaId: string;
  userId: string;
  createdTs: number;
  uploadedTs: number | null;
  unusedExpiresTs: number | null;
  contentType: string | null;
  uploadName: string | null;
  size: number | null;
  sha256: string | null;
}

/** What an upload stores about its content. */
export interface MediaContent {
  contentType: string;
  uploadName: string | null;
  size: number;
  sha256: string;
  uploadedTs: number;
}

export async function selectMedia(
  db: Kysely<Database>,
  mediaId: string,
): Promise<MediaRecord | undefined> {
  const row = await db
    .selectFrom('local_media')
    .selectAll()
    .where('media_id', '=', mediaId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    mediaId: row.media_id,
    userId: row.user_id,
    createdTs: Number(row.created_ts),
    uploadedTs: row.uploaded_ts === null ? null : Number(row.uploaded_ts),
    unusedExpiresTs: row.unused_expires_ts === null ? null : Number(row.unused_expires_ts),
    contentType: row.content_type,
    uploadName: row.upload_name,
    size: row.size === null ? null : Number(row.size),
    sha256: row.sha256,
  };
}

/** Records media whose content is stored (`POST /upload`). */
export async function insertUploadedMedia(
  trx: Kysely<Database>,
  mediaId: string,
  userId: string,
  content: MediaContent,
): Promise<void> {
  await trx
    .insertInto('local_media')
    .values({
      media_id: mediaId,
      user_id: userId,
      created_ts: content.uploadedTs,
      uploaded_ts: content.uploadedTs,
      unused_expires_ts: null,
      content_type: content.contentType,
      upload_name: content.uploadName,
      size: content.size,
      sha256: content.sha256,
    })
    .execute();
}

/** Records a media ID whose content comes later (`POST /create`). */
export async function insertPendingMedia(
  trx: Kysely<Database>,
  mediaId: string,
  userId: string,
  createdTs: number,
  unusedExpiresTs: number,
): Promise<void> {
  await trx
    .insertInto('local_media')
    .values({
      media_id: mediaId,
      user_id: userId,
      created_ts: createdTs,
      uploaded_ts: null,
      unused_expires_ts: unusedExpiresTs,
      content_type: null,
      upload_name: null,
      size: null,
      sha256: null,
    })
    .execute();
}

/**
 * Fills in the content of a pending media ID. False when it is no longer pending (uploaded
 * meanwhile, or gone), so that two uploads can never both succeed.
 */
export async function completePendingMedia(
  trx: Kysely<Database>,
  mediaId: string,
  content: MediaContent,
): Promise<boolean> {
  const result = await trx
    .updateTable('local_media')
    .set({
      uploaded_ts: content.uploadedTs,
      unused_expires_ts: null,
      content_type: content.contentType,
      upload_name: content.uploadName,
      size: content.size,
      sha256: content.sha256,
    })
    .where('media_id', '=', mediaId)
    .where('uploaded_ts', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A user's pending uploads that have not expired at `now`: how many, and the first to expire. */
export async function selectPendingMediaOf(
  db: Kysely<Database>,
  userId: string,
  now: number,
): Promise<{ count: number; firstExpiryTs: number | null }> {
  const row = await db
    .selectFrom('local_media')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('count'),
      eb.fn.min('unused_expires_ts').as('first_expiry'),
    ])
    .where('user_id', '=', userId)
    .where('uploaded_ts', 'is', null)
    .where('unused_expires_ts', '>', now)
    .executeTakeFirstOrThrow();
  return {
    count: Number(row.count),
    firstExpiryTs: row.first_expiry === null ? null : Number(row.first_expiry),
  };
}

/** Forgets a user's pending media IDs that expired by `now` (they hold no content). */
export async function deleteExpiredPendingMedia(
  trx: Kysely<Database>,
  userId: string,
  now: number,
): Promise<void> {
  await trx
    .deleteFrom('local_media')
    .where('user_id', '=', userId)
    .where('uploaded_ts', 'is', null)
    .where('unused_expires_ts', '<=', now)
    .execute();
}

/** The bytes of all stored media. */
export async function selectMediaBytes(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('media_usage')
    .select('total_bytes')
    .where('id', '=', 1)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.total_bytes);
}

/**
 * Adds `bytes` to the stored total if the total stays within `quota` (no quota: always), in one
 * statement, so concurrent uploads cannot together exceed it. False when it would not fit.
 */
export async function reserveMediaBytes(
  trx: Kysely<Database>,
  bytes: number,
  quota: number | undefined,
): Promise<boolean> {
  let update = trx
    .updateTable('media_usage')
    .set({ total_bytes: sql<number>`total_bytes + ${bytes}` })
    .where('id', '=', 1);
  if (quota !== undefined) update = update.where(sql<number>`total_bytes + ${bytes}`, '<=', quota);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
