import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export async function insertFilter(
  trx: Kysely<Database>,
  userId: string,
  filterId: string,
  filterJson: string,
): Promise<void> {
  await trx
    .insertInto('filters')
    .values({ user_id: userId, filter_id: filterId, filter_json: filterJson })
    .execute();
}

export async function selectFilter(
  db: Kysely<Database>,
  userId: string,
  filterId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('filters')
    .select('filter_json')
    .where('user_id', '=', userId)
    .where('filter_id', '=', filterId)
    .executeTakeFirst();
  return row?.filter_json;
}

/** The ID of a filter of this user with exactly this canonical JSON, if one was stored. */
export async function selectFilterIdByJson(
  db: Kysely<Database>,
  userId: string,
  filterJson: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('filters')
    .select('filter_id')
    .where('user_id', '=', userId)
    .where('filter_json', '=', filterJson)
    .orderBy('filter_id')
    .executeTakeFirst();
  return row?.filter_id;
}

export async function deleteFiltersOfUser(trx: Kysely<Database>, userId: string): Promise<void> {
  await trx.deleteFrom('filters').where('user_id', '=', userId).execute();
}
