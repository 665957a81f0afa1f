/**
 * Server-side key backups (spec: "Server-side key backups"): a user's backup versions and the
 * encrypted room keys stored in them. The server never decrypts anything; it keeps what clients
 * upload, applies the spec's rule for which copy of a session key to keep, and gives each
 * version a `count` and an `etag` that changes whenever its keys change. Every write of a user
 * runs in one transaction that holds the user's backup lock (see `lockUserBackups`).
 */
import type { Kysely } from 'kysely';
import type { JsonObject } from '../../core/canonical-json.js';
import { MatrixError, invalidParam, notFound, tooLarge } from '../../core/errors.js';
import {
  backupVersionExisted,
  bumpBackupEtag,
  insertBackupVersion,
  lockUserBackups,
  markBackupVersionsDeleted,
  selectBackupVersion,
  selectCurrentBackupVersion,
  updateBackupAuthData,
  type BackupVersionRow,
} from '../../storage/key-backup/backup-versions.js';
import {
  countBackupKeys,
  deleteAllBackupKeysOfUser,
  deleteBackupKeys,
  selectBackupKeyMetadata,
  selectBackupKeys,
  upsertBackupKeys,
  type BackupKeyRow,
  type BackupKeyScope,
} from '../../storage/key-backup/backup-sessions.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { shouldReplaceBackupKey } from './replacement-rule.js';

/** `auth_data` of a version, as canonical-ish JSON text, at most this long. */
export const MAX_AUTH_DATA_BYTES = 64 * 1024;
/** `session_data` of one key, as JSON text, at most this long. */
export const MAX_SESSION_DATA_BYTES = 32 * 1024;
/** Keys one backup version may hold. */
export const MAX_KEYS_PER_VERSION = 500_000;

/** One backed-up session key, as the spec's `KeyBackupData`. */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: JsonObject;
}

/** `{sessionId: KeyBackupData}`: the keys of one room. */
export type RoomSessions = Record<string, KeyBackupData>;

/** `GET /room_keys/version[/{version}]`. */
export interface BackupVersionInfo {
  algorithm: string;
  auth_data: JsonObject;
  count: number;
  etag: string;
  version: string;
}

/** The response of writes to `room_keys/keys`. */
export interface RoomKeysUpdate {
  etag: string;
  count: number;
}

export interface BackupVersionUpdate {
  algorithm: string;
  authData: JsonObject;
  /** The version named in the body, if any: it must match the path. */
  version?: string;
}

export class KeyBackup {
  constructor(private readonly db: TenantDatabase) {}

  /** `POST /room_keys/version`: a new version, which becomes the current one. */
  async createVersion(userId: string, algorithm: string, authData: JsonObject): Promise<string> {
    const authText = authDataText(authData);
    const version = await this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      return insertBackupVersion(trx, userId, algorithm, authText);
    });
    return String(version);
  }

  /** `GET /room_keys/version[/{version}]`: the named version, or else the current one. */
  async getVersion(userId: string, version?: string): Promise<BackupVersionInfo> {
    return this.db.read(async (db) => {
      let row: BackupVersionRow | undefined;
      if (version === undefined) {
        row = await selectCurrentBackupVersion(db, userId);
        if (row === undefined) throw noCurrentVersion();
      } else {
        row = await this.#liveVersion(db, userId, version);
      }
      return {
        algorithm: row.algorithm,
        auth_data: JSON.parse(row.authData) as JsonObject,
        count: await countBackupKeys(db, userId, row.version),
        etag: String(row.etag),
        version: String(row.version),
      };
    });
  }

  /** `PUT /room_keys/version/{version}`: only `auth_data` changes; the algorithm must match. */
  async updateVersion(userId: string, version: string, update: BackupVersionUpdate): Promise<void> {
    if (update.version !== undefined && update.version !== version) {
      throw invalidParam('Version in body does not match');
    }
    const authText = authDataText(update.authData);
    await this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      const row = await this.#liveVersion(trx, userId, version);
      if (row.algorithm !== update.algorithm) throw invalidParam('Algorithm does not match');
      await updateBackupAuthData(trx, userId, row.version, authText);
    });
  }

  /**
   * `DELETE /room_keys/version/{version}`: the version and all its keys. Deleting a version
   * already deleted succeeds (spec); one that never existed is 404.
   */
  async deleteVersion(userId: string, version: string): Promise<void> {
    const number = parseVersion(version);
    if (number === undefined) throw unknownVersion();
    await this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      if (!(await backupVersionExisted(trx, userId, number))) throw unknownVersion();
      await deleteBackupKeys(trx, userId, number);
      await markBackupVersionsDeleted(trx, userId, number);
    });
  }

  /**
   * `PUT /room_keys/keys[/{roomId}[/{sessionId}]]`: stores keys in the current version, keeping
   * an already stored key when the spec's rule prefers it. Another version is 403
   * M_WRONG_ROOM_KEYS_VERSION with the current one; no version at all is 404.
   */
  async putKeys(
    userId: string,
    version: string,
    rooms: Readonly<Record<string, RoomSessions>>,
  ): Promise<RoomKeysUpdate> {
    const uploaded = uploadedRows(rooms);
    return this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      const current = await selectCurrentBackupVersion(trx, userId);
      if (current === undefined) throw noCurrentVersion();
      if (String(current.version) !== version) throw wrongVersion(current.version);
      const kept = await this.#replacing(trx, userId, current.version, uploaded);
      let etag = current.etag;
      if (kept.length > 0) {
        await upsertBackupKeys(trx, userId, current.version, kept);
        etag = await bumpBackupEtag(trx, userId, current.version);
      }
      const count = await countBackupKeys(trx, userId, current.version);
      if (count > MAX_KEYS_PER_VERSION) {
        throw tooLarge(`A backup version holds at most ${MAX_KEYS_PER_VERSION} keys`);
      }
      return { etag: String(etag), count };
    });
  }

  /** `GET /room_keys/keys`: every key of a version, by room. */
  async getAllKeys(
    userId: string,
    version: string,
  ): Promise<{ rooms: Record<string, { sessions: RoomSessions }> }> {
    const rows = await this.#keysOf(userId, version, {});
    const rooms: Record<string, { sessions: RoomSessions }> = {};
    for (const row of rows) {
      const room = (rooms[row.roomId] ??= { sessions: {} });
      room.sessions[row.sessionId] = keyDataOf(row);
    }
    return { rooms };
  }

  /** `GET /room_keys/keys/{roomId}`: a room's keys; `{sessions: {}}` when it has none. */
  async getRoomKeys(
    userId: string,
    version: string,
    roomId: string,
  ): Promise<{ sessions: RoomSessions }> {
    const rows = await this.#keysOf(userId, version, { roomId });
    const sessions: RoomSessions = {};
    for (const row of rows) sessions[row.sessionId] = keyDataOf(row);
    return { sessions };
  }

  /** `GET /room_keys/keys/{roomId}/{sessionId}`: one key; 404 when the backup lacks it. */
  async getSessionKey(
    userId: string,
    version: string,
    roomId: string,
    sessionId: string,
  ): Promise<KeyBackupData> {
    const [row] = await this.#keysOf(userId, version, { roomId, sessionId });
    if (row === undefined) throw notFound('No room_keys found');
    return keyDataOf(row);
  }

  /** `DELETE /room_keys/keys[/{roomId}[/{sessionId}]]` from any version that is not deleted. */
  async deleteKeys(
    userId: string,
    version: string,
    scope: BackupKeyScope = {},
  ): Promise<RoomKeysUpdate> {
    return this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      const row = await this.#liveVersion(trx, userId, version);
      let etag = row.etag;
      if ((await deleteBackupKeys(trx, userId, row.version, scope)) > 0) {
        etag = await bumpBackupEtag(trx, userId, row.version);
      }
      return { etag: String(etag), count: await countBackupKeys(trx, userId, row.version) };
    });
  }

  /** A deactivated user's backups go: every key, and every version marked deleted. */
  async forgetUser(userId: string): Promise<void> {
    await this.db.transact(async (trx) => {
      await lockUserBackups(trx, userId, this.db.dialect);
      await deleteAllBackupKeysOfUser(trx, userId);
      await markBackupVersionsDeleted(trx, userId);
    });
  }

  async #keysOf(userId: string, version: string, scope: BackupKeyScope): Promise<BackupKeyRow[]> {
    return this.db.read(async (db) => {
      const row = await this.#liveVersion(db, userId, version);
      return selectBackupKeys(db, userId, row.version, scope);
    });
  }

  async #liveVersion(
    db: Kysely<Database>,
    userId: string,
    version: string,
  ): Promise<BackupVersionRow> {
    const number = parseVersion(version);
    const row = number === undefined ? undefined : await selectBackupVersion(db, userId, number);
    if (row === undefined) throw unknownVersion();
    return row;
  }

  /** The uploaded keys that win over what the version holds (all of them for new sessions). */
  async #replacing(
    trx: Kysely<Database>,
    userId: string,
    version: number,
    uploaded: readonly BackupKeyRow[],
  ): Promise<BackupKeyRow[]> {
    const byRoom = new Map<string, BackupKeyRow[]>();
    for (const key of uploaded) {
      const list = byRoom.get(key.roomId);
      if (list === undefined) byRoom.set(key.roomId, [key]);
      else list.push(key);
    }
    const kept: BackupKeyRow[] = [];
    for (const [roomId, keys] of byRoom) {
      const sessionIds = keys.map((key) => key.sessionId);
      const stored = await selectBackupKeyMetadata(trx, userId, version, roomId, sessionIds);
      for (const key of keys) {
        const existing = stored.get(key.sessionId);
        if (existing === undefined || shouldReplaceBackupKey(existing, key)) kept.push(key);
      }
    }
    return kept;
  }
}

/** Versions are the decimal numbers this server hands out; anything else names no version. */
function parseVersion(version: string): number | undefined {
  return /^[1-9]\d{0,14}$/.test(version) ? Number(version) : undefined;
}

function authDataText(authData: JsonObject): string {
  const text = JSON.stringify(authData);
  if (Buffer.byteLength(text) > MAX_AUTH_DATA_BYTES) {
    throw tooLarge(`auth_data is larger than ${MAX_AUTH_DATA_BYTES} bytes`);
  }
  return text;
}

function uploadedRows(rooms: Readonly<Record<string, RoomSessions>>): BackupKeyRow[] {
  const rows: BackupKeyRow[] = [];
  for (const [roomId, sessions] of Object.entries(rooms)) {
    for (const [sessionId, key] of Object.entries(sessions)) {
      const sessionData = JSON.stringify(key.session_data);
      if (Buffer.byteLength(sessionData) > MAX_SESSION_DATA_BYTES) {
        throw tooLarge(`session_data is larger than ${MAX_SESSION_DATA_BYTES} bytes`);
      }
      rows.push({
        roomId,
        sessionId,
        firstMessageIndex: key.first_message_index,
        forwardedCount: key.forwarded_count,
        isVerified: key.is_verified,
        sessionData,
      });
    }
  }
  return rows;
}

function keyDataOf(row: BackupKeyRow): KeyBackupData {
  return {
    first_message_index: row.firstMessageIndex,
    forwarded_count: row.forwardedCount,
    is_verified: row.isVerified,
    session_data: JSON.parse(row.sessionData) as JsonObject,
  };
}

const unknownVersion = () => notFound('Unknown backup version');
const noCurrentVersion = () => notFound('No current backup version');
const wrongVersion = (current: number) =>
  new MatrixError('M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', {
    extras: { current_version: String(current) },
  });
