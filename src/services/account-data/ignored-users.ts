/**
 * Whom each user ignores (client-server API "Ignoring Users"): the keys of `ignored_users` in
 * their `m.ignored_user_list` account data. Read on every /sync and /messages, so the lists are
 * kept in memory per tenant instance and dropped when the user writes that account data again
 * (all writes go through `AccountData` of this instance).
 */
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { selectAccountData } from '../../storage/accounts/account-data.js';
import { LruCache } from '../room-graph/lru-cache.js';
import type { AccountData } from './account-data.js';

export const IGNORED_USER_LIST_TYPE = 'm.ignored_user_list';

/** Users whose ignore lists are kept in memory. */
const CACHE_SIZE = 10_000;

const NOBODY: ReadonlySet<string> = new Set();

export class IgnoredUsers {
  readonly #db: TenantDatabase;
  readonly #lists = new LruCache<string, ReadonlySet<string>>(CACHE_SIZE);
  /** Bumped on every change, so a read that raced a write does not cache the old list. */
  #generation = 0;

  constructor(db: TenantDatabase, accountData: AccountData) {
    this.#db = db;
    accountData.changed.add((change) => {
      if (change.type !== IGNORED_USER_LIST_TYPE || change.roomId !== null) return;
      this.#generation += 1;
      this.#lists.delete(change.userId);
    });
  }

  /** The users `userId` ignores (never themselves). */
  async of(userId: string): Promise<ReadonlySet<string>> {
    const cached = this.#lists.get(userId);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const content = await this.#db.read((db) =>
      selectAccountData(db, userId, '', IGNORED_USER_LIST_TYPE),
    );
    const list = ignoredIn(content, userId);
    if (generation === this.#generation) this.#lists.set(userId, list);
    return list;
  }
}

/** The ignored user IDs of an `m.ignored_user_list` content; malformed content ignores nobody. */
export function ignoredIn(content: unknown, self: string): ReadonlySet<string> {
  if (typeof content !== 'object' || content === null) return NOBODY;
  const users = (content as Record<string, unknown>).ignored_users;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) return NOBODY;
  const ignored = new Set(Object.keys(users));
  ignored.delete(self);
  return ignored.size === 0 ? NOBODY : ignored;
}
