/**
 * The backup versions of server-side key backups: one row per version a user created. A
 * deleted version keeps its row (flagged, `auth_data` emptied) so that numbers are never reused.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from '../database-config.js';
import type { Database } from '../schema.js';

export interface BackupVersionRow {
  version: number;
  algorithm: string;
  /** JSON text. */
  authData: string;
  etag: number;
}

const LIVE_COLUMNS = ['version', 'algorithm', 'auth_data', 'etag'] as const;

function toRow(row: {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
}): BackupVersionRow {
  return {
    version: row.version,
    algorithm: row.algorithm,
    authData: row.auth_data,
    etag: row.etag,
  };
}

/**
 * Serializes the key backup writes of one user on PostgreSQL by locking the user's row (SQLite
 * runs transactions one at a time anyway): version numbering and the keep-or-replace decision
 * of uploads read before they write.
 */
export async function lockUserBackups(
  trx: Kysely<Database>,
  userId: string,
  dialect: Dialect,
): Promise<void> {
  if (dialect !== 'postgres') return;
  await trx
    .selectFrom('users')
    .select('user_id')
    .where('user_id', '=', userId)
    .forUpdate()
    .execute();
}

/** The user's current version: the latest one not deleted. */
export async function selectCurrentBackupVersion(
  db: Kysely<Database>,
  userId: string,
): Promise<BackupVersionRow | undefined> {
  const row = await db
    .selectFrom('key_backup_versions')
    .select(LIVE_COLUMNS)
    .where('user_id', '=', userId)
    .where('deleted', '=', 0)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : toRow(row);
}

/** A version of the user that is not deleted. */
export async function selectBackupVersion(
  db: Kysely<Database>,
  userId: string,
  version: number,
): Promise<BackupVersionRow | undefined> {
  const row = await db
    .selectFrom('key_backup_versions')
    .select(LIVE_COLUMNS)
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .where('deleted', '=', 0)
    .executeTakeFirst();
  return row === undefined ? undefined : toRow(row);
}

/** Whether the user ever created this version (deleted or not). */
export async function backupVersionExisted(
  db: Kysely<Database>,
  userId: string,
  version: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('key_backup_versions')
    .select('version')
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .executeTakeFirst();
  return row !== undefined;
}

/** Creates the user's next version (one above any they ever had); returns its number. */
export async function insertBackupVersion(
  trx: Kysely<Database>,
  userId: string,
  algorithm: string,
  authData: string,
): Promise<number> {
  const last = await trx
    .selectFrom('key_backup_versions')
    .select((eb) => eb.fn.max('version').as('last'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const version = Number(last?.last ?? 0) + 1;
  await trx
    .insertInto('key_backup_versions')
    .values({
      user_id: userId,
      version,
      algorithm,
      auth_data: authData,
      etag: 0,
      deleted: 0,
    })
    .execute();
  return version;
}

export async function updateBackupAuthData(
  trx: Kysely<Database>,
  userId: string,
  version: number,
  authData: string,
): Promise<void> {
  await trx
    .updateTable('key_backup_versions')
    .set({ auth_data: authData })
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .execute();
}

/** Marks that the version's keys changed; returns the new etag. */
export async function bumpBackupEtag(
  trx: Kysely<Database>,
  userId: string,
  version: number,
): Promise<number> {
  const row = await trx
    .updateTable('key_backup_versions')
    .set((eb) => ({ etag: eb('etag', '+', 1) }))
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .returning('etag')
    .executeTakeFirstOrThrow();
  return row.etag;
}

/** Marks versions of the user deleted (all of them without `version`), emptying `auth_data`. */
export async function markBackupVersionsDeleted(
  trx: Kysely<Database>,
  userId: string,
  version?: number,
): Promise<void> {
  await trx
    .updateTable('key_backup_versions')
    .set({ deleted: 1, auth_data: '{}' })
    .where('user_id', '=', userId)
    .$if(version !== undefined, (qb) => qb.where('version', '=', version as number))
    .execute();
}
