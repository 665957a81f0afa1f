import type { Logger } from 'pino';
import { invalidParam, MatrixError } from '../../core/errors.js';
import { isValidUserId, parseUserId } from '../../core/identifiers.js';
import { deleteAccountDataOfUser } from '../../storage/accounts/account-data.js';
import { deleteAllDevices } from '../../storage/accounts/devices.js';
import { deleteFiltersOfUser } from '../../storage/accounts/filters.js';
import { deleteLoginTokensOfUser } from '../../storage/accounts/login-tokens.js';
import { updateProfile } from '../../storage/accounts/profiles.js';
import {
  markUserDeactivated,
  selectUser,
  selectUsersIgnoringCase,
  updatePasswordHash,
  type UserRow,
} from '../../storage/accounts/users.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { Devices } from '../devices/devices.js';
import { Listeners } from '../listeners.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { UiaAuthorisation } from '../user-interactive-auth/user-interactive-auth.js';

export interface UserRecord {
  userId: string;
  isAdmin: boolean;
  isGuest: boolean;
  deactivated: boolean;
  hasPassword: boolean;
}

export type PasswordCheck =
  | { ok: true; userId: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'deactivated'; userId: string };

/** Passwords longer than this are refused (Synapse's limit): hashing is not free. */
export const MAX_PASSWORD_LENGTH = 512;

/** The tenant's local accounts: lookup, password checks and changes, deactivation. */
export class Users {
  /** A user was deactivated (the rooms code will make them leave their rooms). */
  readonly deactivated: Listeners<{ userId: string }>;

  constructor(
    private readonly db: TenantDatabase,
    readonly serverName: string,
    private readonly hasher: PasswordHasher,
    private readonly devices: Devices,
    logger: Logger,
  ) {
    this.deactivated = new Listeners(logger, 'user deactivated');
  }

  userIdOf(localpart: string): string {
    return `@${localpart}:${this.serverName}`;
  }

  /** Whether `userId` is a well-formed user ID of this server. */
  isLocal(userId: string): boolean {
    return isValidUserId(userId) && parseUserId(userId).serverName === this.serverName;
  }

  async get(userId: string): Promise<UserRecord | undefined> {
    const row = await this.db.read((db) => selectUser(db, userId));
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Finds a local user by localpart or full user ID, ignoring the case of ASCII letters as
   * Synapse does; if several accounts differ only by case, only an exact match counts.
   */
  async resolve(user: string): Promise<UserRecord | undefined> {
    const candidate = user.startsWith('@') ? user : `@${user}:${this.serverName}`;
    if (!isValidUserId(candidate)) return undefined;
    if (parseUserId(candidate).serverName.toLowerCase() !== this.serverName.toLowerCase()) {
      return undefined;
    }
    const rows = await this.db.read((db) => selectUsersIgnoringCase(db, candidate));
    const row = rows.length === 1 ? rows[0] : rows.find((r) => r.user_id === candidate);
    return row === undefined ? undefined : toRecord(row);
  }

  /** Checks a password for a user named as at login (localpart or user ID). */
  async checkPassword(user: string, password: string): Promise<PasswordCheck> {
    const record = await this.resolve(user);
    if (record === undefined) return { ok: false, reason: 'invalid' };
    if (record.deactivated) return { ok: false, reason: 'deactivated', userId: record.userId };
    const row = await this.db.read((db) => selectUser(db, record.userId));
    if (!(await this.hasher.verify(password, row?.password_hash ?? null))) {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, userId: record.userId };
  }

  /**
   * `POST /account/password`, after user-interactive auth: sets the new password and, when
   * `logoutDevices`, deletes every other device and its tokens (`keepDeviceId`: the device of
   * the request, whose token the spec says not to revoke).
   */
  async changePassword(
    userId: string,
    newPassword: string,
    options: { authorisation: UiaAuthorisation; logoutDevices: boolean; keepDeviceId?: string },
  ): Promise<void> {
    checkNewPassword(newPassword);
    const hash = await this.hasher.hash(newPassword);
    const deleted = await this.db.transact(async (trx) => {
      await options.authorisation.commit(trx);
      await updatePasswordHash(trx, userId, hash);
      return options.logoutDevices ? deleteAllDevices(trx, userId, options.keepDeviceId) : [];
    });
    if (deleted.length > 0) await this.devices.deleted.emit({ userId, deviceIds: deleted });
  }

  /**
   * `POST /account/deactivate`, after user-interactive auth: the account can never log in
   * again; its password, devices and tokens are deleted. With `erase`, its profile, account
   * data and filters go too. The user ID stays taken.
   */
  async deactivate(
    userId: string,
    options: { authorisation: UiaAuthorisation; erase: boolean },
  ): Promise<void> {
    const deleted = await this.db.transact(async (trx) => {
      await options.authorisation.commit(trx);
      await markUserDeactivated(trx, userId);
      const devices = await deleteAllDevices(trx, userId);
      await deleteLoginTokensOfUser(trx, userId);
      if (options.erase) {
        await updateProfile(trx, userId, { displayname: null, avatarUrl: null });
        await deleteAccountDataOfUser(trx, userId);
        await deleteFiltersOfUser(trx, userId);
      }
      return devices;
    });
    if (deleted.length > 0) await this.devices.deleted.emit({ userId, deviceIds: deleted });
    await this.deactivated.emit({ userId });
  }
}

/** Refuses passwords the server will not hash: empty, or longer than MAX_PASSWORD_LENGTH. */
export function checkNewPassword(password: string): void {
  if (password.length === 0) throw new MatrixError('M_WEAK_PASSWORD', 'Password is empty');
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw invalidParam(`Password is longer than ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.includes('\0')) throw invalidParam('Password contains NUL');
}

function toRecord(row: UserRow): UserRecord {
  return {
    userId: row.user_id,
    isAdmin: row.is_admin === 1,
    isGuest: row.is_guest === 1,
    deactivated: row.deactivated === 1,
    hasPassword: row.password_hash !== null,
  };
}
