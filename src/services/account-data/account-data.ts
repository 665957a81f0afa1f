import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { MatrixError, invalidParam, notFound } from '../../core/errors.js';
import {
  selectAccountData,
  selectAccountDataSince,
  upsertAccountData,
  type AccountDataRecord,
} from '../../storage/accounts/account-data.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';

/** A committed account data write: sync wakes up on these (once it exists). */
export interface AccountDataChange {
  userId: string;
  /** Null for global account data. */
  roomId: string | null;
  type: string;
  streamId: number;
}

/**
 * Types the server maintains itself, refused by the client API with 405 M_BAD_JSON (spec):
 * `m.fully_read` goes through `/read_markers`, `m.push_rules` through `/pushrules`.
 */
const SERVER_MANAGED_TYPES: ReadonlySet<string> = new Set(['m.fully_read', 'm.push_rules']);
const MAX_TYPE_LENGTH = 255;

/** Per-user account data, global or per room, on the tenant's account data stream. */
export class AccountData {
  readonly changed: Listeners<AccountDataChange>;

  constructor(
    private readonly db: TenantDatabase,
    logger: Logger,
  ) {
    this.changed = new Listeners(logger, 'account data changed');
  }

  /** 404 M_NOT_FOUND when nothing is stored for that type. */
  async get(userId: string, roomId: string | null, type: string): Promise<Record<string, unknown>> {
    const content = await this.db.read((db) => selectAccountData(db, userId, roomId ?? '', type));
    if (content === undefined) throw notFound('Account data not found');
    return content;
  }

  async set(
    userId: string,
    roomId: string | null,
    type: string,
    content: Record<string, unknown>,
  ): Promise<void> {
    if (type.length === 0 || type.length > MAX_TYPE_LENGTH) {
      throw invalidParam(`type must be 1 to ${MAX_TYPE_LENGTH} characters`);
    }
    if (SERVER_MANAGED_TYPES.has(type)) {
      throw new MatrixError('M_BAD_JSON', `Cannot set ${type} through this API`, { status: 405 });
    }
    const streamId = await this.db.transact((trx) =>
      upsertAccountData(trx, userId, roomId ?? '', type, content),
    );
    await this.changed.emit({ userId, roomId, type, streamId });
  }

  /**
   * Writes an entry of a type the server manages (`m.fully_read`, which read markers set) inside
   * the caller's transaction. Announce the returned change with `announce` once it commits.
   */
  async setManagedIn(
    trx: Kysely<Database>,
    userId: string,
    roomId: string | null,
    type: string,
    content: Record<string, unknown>,
  ): Promise<AccountDataChange> {
    const streamId = await upsertAccountData(trx, userId, roomId ?? '', type, content);
    return { userId, roomId, type, streamId };
  }

  /** Tells subscribers about a change written with `setManagedIn`, after its commit. */
  async announce(change: AccountDataChange): Promise<void> {
    await this.changed.emit(change);
  }

  /** A user's entries written after stream position `since`, oldest first (for sync). */
  async since(userId: string, since: number): Promise<AccountDataRecord[]> {
    return this.db.read((db) => selectAccountDataSince(db, userId, since));
  }
}
