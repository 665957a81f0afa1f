import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Database, UsersTable } from '../schema.js';

export type UserRow = Selectable<UsersTable>;

export interface NewUser {
  userId: string;
  passwordHash: string | null;
  isAdmin: boolean;
  isGuest: boolean;
  createdTs: number;
}

/** Inserts a user; returns false (and writes nothing) when the user ID is taken. */
export async function insertUser(trx: Kysely<Database>, user: NewUser): Promise<boolean> {
  const result = await trx
    .insertInto('users')
    .values({
      user_id: user.userId,
      password_hash: user.passwordHash,
      is_admin: user.isAdmin ? 1 : 0,
      is_guest: user.isGuest ? 1 : 0,
      deactivated: 0,
      created_ts: user.createdTs,
    })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function selectUser(
  db: Kysely<Database>,
  userId: string,
): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/**
 * Users whose ID equals `userId` ignoring the case of ASCII letters, for case-insensitive login.
 * Only ASCII is folded here, as SQLite's `lower()` does; user IDs are ASCII in practice.
 */
export async function selectUsersIgnoringCase(
  db: Kysely<Database>,
  userId: string,
): Promise<UserRow[]> {
  return db
    .selectFrom('users')
    .selectAll()
    .where(
      sql<string>`lower(user_id)`,
      '=',
      userId.replace(/[A-Z]/g, (c) => c.toLowerCase()),
    )
    .execute();
}

export async function updatePasswordHash(
  trx: Kysely<Database>,
  userId: string,
  passwordHash: string | null,
): Promise<void> {
  await trx
    .updateTable('users')
    .set({ password_hash: passwordHash })
    .where('user_id', '=', userId)
    .execute();
}

/** Marks a user deactivated and forgets its password. */
export async function markUserDeactivated(trx: Kysely<Database>, userId: string): Promise<void> {
  await trx
    .updateTable('users')
    .set({ deactivated: 1, password_hash: null })
    .where('user_id', '=', userId)
    .execute();
}

/**
 * Turns a guest into a full account (guest upgrade at `POST /register`), setting its password;
 * false when the user is no longer a guest (upgraded meanwhile) or is deactivated.
 */
export async function upgradeGuestUser(
  trx: Kysely<Database>,
  userId: string,
  passwordHash: string | null,
): Promise<boolean> {
  const result = await trx
    .updateTable('users')
    .set({ is_guest: 0, password_hash: passwordHash })
    .where('user_id', '=', userId)
    .where('is_guest', '=', 1)
    .where('deactivated', '=', 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
