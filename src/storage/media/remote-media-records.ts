/**
 * Queries of `remote_media_cache`: other servers' media fetched over federation, whose bytes the
 * tenant keeps in its own media store (under the row's `cache_id`) to serve them again locally.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Another server's media item, cached here. */
export interface RemoteMediaRecord {
  origin: string;
  mediaId: string;
  /** The local name of its bytes and thumbnails. */
  cacheId: string;
  contentType: string;
  uploadName: string | null;
  size: number;
  sha256: string;
  fetchedTs: number;
  /** When it was last served, at most `touchRemoteMedia`'s resolution behind. */
  lastAccessTs: number;
}

type RemoteMediaRow = Database['remote_media_cache'];

function recordOf(row: RemoteMediaRow): RemoteMediaRecord {
  return {
    origin: row.origin,
    mediaId: row.media_id,
    cacheId: row.cache_id,
    contentType: row.content_type,
    uploadName: row.upload_name,
    size: Number(row.size),
    sha256: row.sha256,
    fetchedTs: Number(row.fetched_ts),
    lastAccessTs: Number(row.last_access_ts),
  };
}

export async function selectRemoteMedia(
  db: Kysely<Database>,
  origin: string,
  mediaId: string,
): Promise<RemoteMediaRecord | undefined> {
  const row = await db
    .selectFrom('remote_media_cache')
    .selectAll()
    .where('origin', '=', origin)
    .where('media_id', '=', mediaId)
    .executeTakeFirst();
  return row === undefined ? undefined : recordOf(row);
}

/**
 * Records cached remote media. Returns false when the media was already recorded (its first
 * record stays: the caller removes the bytes it stored in vain).
 */
export async function insertRemoteMedia(
  db: Kysely<Database>,
  record: RemoteMediaRecord,
): Promise<boolean> {
  const result = await db
    .insertInto('remote_media_cache')
    .values({
      origin: record.origin,
      media_id: record.mediaId,
      cache_id: record.cacheId,
      content_type: record.contentType,
      upload_name: record.uploadName,
      size: record.size,
      sha256: record.sha256,
      fetched_ts: record.fetchedTs,
      last_access_ts: record.lastAccessTs,
    })
    .onConflict((oc) => oc.columns(['origin', 'media_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Forgets cached remote media (its bytes are gone from the store). */
export async function deleteRemoteMedia(
  db: Kysely<Database>,
  origin: string,
  mediaId: string,
): Promise<void> {
  await db
    .deleteFrom('remote_media_cache')
    .where('origin', '=', origin)
    .where('media_id', '=', mediaId)
    .execute();
}

/**
 * Records that the media was served at `now`, unless it was recorded as served at or after
 * `notBefore` (so a busy item is written at most once per resolution). Returns whether it wrote.
 */
export async function touchRemoteMedia(
  db: Kysely<Database>,
  origin: string,
  mediaId: string,
  now: number,
  notBefore: number,
): Promise<boolean> {
  const result = await db
    .updateTable('remote_media_cache')
    .set({ last_access_ts: now })
    .where('origin', '=', origin)
    .where('media_id', '=', mediaId)
    .where('last_access_ts', '<', notBefore)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Up to `limit` cached items last served before `cutoff`, least recently served first. */
export async function selectRemoteMediaUnusedSince(
  db: Kysely<Database>,
  cutoff: number,
  limit: number,
): Promise<RemoteMediaRecord[]> {
  const rows = await db
    .selectFrom('remote_media_cache')
    .selectAll()
    .where('last_access_ts', '<', cutoff)
    .orderBy('last_access_ts')
    .orderBy('origin')
    .orderBy('media_id')
    .limit(limit)
    .execute();
  return rows.map(recordOf);
}

/**
 * Forgets cached media if it was still last served before `cutoff` (not served meanwhile).
 * Returns whether it was forgotten.
 */
export async function deleteRemoteMediaUnusedSince(
  db: Kysely<Database>,
  origin: string,
  mediaId: string,
  cutoff: number,
): Promise<boolean> {
  const result = await db
    .deleteFrom('remote_media_cache')
    .where('origin', '=', origin)
    .where('media_id', '=', mediaId)
    .where('last_access_ts', '<', cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
