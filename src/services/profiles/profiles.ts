import type { Logger } from 'pino';
import { invalidParam, notFound } from '../../core/errors.js';
import { selectProfile, updateProfile } from '../../storage/accounts/profiles.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';

/** The profile fields this server stores. */
export type ProfileField = 'displayname' | 'avatar_url';
export const PROFILE_FIELDS: readonly ProfileField[] = ['displayname', 'avatar_url'];

export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

/**
 * A committed change of a user's displayname or avatar. The rooms code subscribes to
 * `Profiles.changed` to send the new `m.room.member` events into the user's joined rooms
 * (spec: "Events on Change of Profile Information").
 */
export interface ProfileChange {
  userId: string;
  field: ProfileField;
  value: string | null;
  previous: string | null;
}

/** Synapse's limits. */
export const MAX_DISPLAYNAME_LENGTH = 256;
export const MAX_AVATAR_URL_LENGTH = 1000;
const MXC_URI = /^mxc:\/\/[^/\s]+\/[A-Za-z0-9_-]+$/;

/** Displaynames and avatars of local users. */
export class Profiles {
  readonly changed: Listeners<ProfileChange>;

  constructor(
    private readonly db: TenantDatabase,
    logger: Logger,
  ) {
    this.changed = new Listeners(logger, 'profile changed');
  }

  /** A local user's profile; 404 M_NOT_FOUND for users this server does not have. */
  async get(userId: string): Promise<Profile> {
    const row = await this.db.read((db) => selectProfile(db, userId));
    if (row === undefined) throw notFound('Profile not found');
    const profile: Profile = {};
    if (row.displayname !== null) profile.displayname = row.displayname;
    if (row.avatar_url !== null) profile.avatar_url = row.avatar_url;
    return profile;
  }

  /**
   * Sets one field; `null` or `""` clears it. Displaynames are at most 256 characters; an
   * avatar must be an `mxc://` URI (spec) of at most 1000.
   */
  async set(userId: string, field: ProfileField, value: string | null): Promise<void> {
    const stored = value === '' ? null : value;
    if (stored !== null) checkValue(field, stored);
    const previous = await this.db.transact(async (trx) => {
      const row = await selectProfile(trx, userId);
      if (row === undefined) throw notFound('Profile not found');
      const before = field === 'displayname' ? row.displayname : row.avatar_url;
      await updateProfile(
        trx,
        userId,
        field === 'displayname' ? { displayname: stored } : { avatarUrl: stored },
      );
      return before;
    });
    if (previous !== stored) {
      await this.changed.emit({ userId, field, value: stored, previous });
    }
  }
}

function checkValue(field: ProfileField, value: string): void {
  if (field === 'displayname' && value.length > MAX_DISPLAYNAME_LENGTH) {
    throw invalidParam(`displayname is longer than ${MAX_DISPLAYNAME_LENGTH} characters`);
  }
  if (field === 'avatar_url' && (value.length > MAX_AVATAR_URL_LENGTH || !MXC_URI.test(value))) {
    throw invalidParam('avatar_url must be an mxc:// URI');
  }
}
