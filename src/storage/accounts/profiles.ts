import type { Kysely, Selectable } from 'kysely';
import type { Database, ProfilesTable } from '../schema.js';

export type ProfileRow = Selectable<ProfilesTable>;

export async function insertProfile(
  trx: Kysely<Database>,
  userId: string,
  displayname: string | null,
): Promise<void> {
  await trx
    .insertInto('profiles')
    .values({ user_id: userId, displayname, avatar_url: null })
    .execute();
}

export async function selectProfile(
  db: Kysely<Database>,
  userId: string,
): Promise<ProfileRow | undefined> {
  return db.selectFrom('profiles').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Sets the fields given (undefined: unchanged, null: cleared). */
export async function updateProfile(
  trx: Kysely<Database>,
  userId: string,
  fields: { displayname?: string | null; avatarUrl?: string | null },
): Promise<void> {
  const set: { displayname?: string | null; avatar_url?: string | null } = {};
  if (fields.displayname !== undefined) set.displayname = fields.displayname;
  if (fields.avatarUrl !== undefined) set.avatar_url = fields.avatarUrl;
  if (Object.keys(set).length === 0) return;
  await trx.updateTable('profiles').set(set).where('user_id', '=', userId).execute();
}
