/**
 * The encrypted room keys stored in key backup versions, one row per (version, room, session).
 * Reads and deletes work at the three levels of `room_keys/keys`: a version, a room, a session.
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

/** Which keys of a version: all, one room's, or one session's. */
export interface BackupKeyScope {
  roomId?: string;
  /** Only with `roomId`. */
  sessionId?: string;
}

/** A stored key's metadata, which decides whether an upload replaces it. */
export interface BackupKeyMetadata {
  firstMessageIndex: number;
  forwardedCount: number;
  isVerified: boolean;
}

export interface BackupKeyRow extends BackupKeyMetadata {
  roomId: string;
  sessionId: string;
  /** JSON text. */
  sessionData: string;
}

export async function selectBackupKeys(
  db: Kysely<Database>,
  userId: string,
  version: number,
  scope: BackupKeyScope = {},
): Promise<BackupKeyRow[]> {
  const rows = await db
    .selectFrom('key_backup_sessions')
    .select([
      'room_id',
      'session_id',
      'first_message_index',
      'forwarded_count',
      'is_verified',
      'session_data',
    ])
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .$if(scope.roomId !== undefined, (qb) => qb.where('room_id', '=', scope.roomId as string))
    .$if(scope.sessionId !== undefined, (qb) =>
      qb.where('session_id', '=', scope.sessionId as string),
    )
    .orderBy('room_id')
    .orderBy('session_id')
    .execute();
  return rows.map((row) => ({
    roomId: row.room_id,
    sessionId: row.session_id,
    firstMessageIndex: row.first_message_index,
    forwardedCount: row.forwarded_count,
    isVerified: row.is_verified === 1,
    sessionData: row.session_data,
  }));
}

/** The metadata of the given sessions of one room that the version already holds, by session. */
export async function selectBackupKeyMetadata(
  db: Kysely<Database>,
  userId: string,
  version: number,
  roomId: string,
  sessionIds: readonly string[],
): Promise<Map<string, BackupKeyMetadata>> {
  const found = new Map<string, BackupKeyMetadata>();
  for (const batch of batches(sessionIds, MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('key_backup_sessions')
      .select(['session_id', 'first_message_index', 'forwarded_count', 'is_verified'])
      .where('user_id', '=', userId)
      .where('version', '=', version)
      .where('room_id', '=', roomId)
      .where('session_id', 'in', batch)
      .execute();
    for (const row of rows) {
      found.set(row.session_id, {
        firstMessageIndex: row.first_message_index,
        forwardedCount: row.forwarded_count,
        isVerified: row.is_verified === 1,
      });
    }
  }
  return found;
}

/** Stores keys, replacing any stored for the same sessions. */
export async function upsertBackupKeys(
  trx: Kysely<Database>,
  userId: string,
  version: number,
  keys: readonly BackupKeyRow[],
): Promise<void> {
  for (const batch of batches(keys, MAX_ROWS_PER_INSERT)) {
    await trx
      .insertInto('key_backup_sessions')
      .values(
        batch.map((key) => ({
          user_id: userId,
          version,
          room_id: key.roomId,
          session_id: key.sessionId,
          first_message_index: key.firstMessageIndex,
          forwarded_count: key.forwardedCount,
          is_verified: key.isVerified ? 1 : 0,
          session_data: key.sessionData,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['user_id', 'version', 'room_id', 'session_id']).doUpdateSet((eb) => ({
          first_message_index: eb.ref('excluded.first_message_index'),
          forwarded_count: eb.ref('excluded.forwarded_count'),
          is_verified: eb.ref('excluded.is_verified'),
          session_data: eb.ref('excluded.session_data'),
        })),
      )
      .execute();
  }
}

/** Deletes keys of a version (all of them, a room's, or a session's); returns how many went. */
export async function deleteBackupKeys(
  trx: Kysely<Database>,
  userId: string,
  version: number,
  scope: BackupKeyScope = {},
): Promise<number> {
  const result = await trx
    .deleteFrom('key_backup_sessions')
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .$if(scope.roomId !== undefined, (qb) => qb.where('room_id', '=', scope.roomId as string))
    .$if(scope.sessionId !== undefined, (qb) =>
      qb.where('session_id', '=', scope.sessionId as string),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes every key of every version of the user. */
export async function deleteAllBackupKeysOfUser(
  trx: Kysely<Database>,
  userId: string,
): Promise<void> {
  await trx.deleteFrom('key_backup_sessions').where('user_id', '=', userId).execute();
}

export async function countBackupKeys(
  db: Kysely<Database>,
  userId: string,
  version: number,
): Promise<number> {
  const row = await db
    .selectFrom('key_backup_sessions')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
