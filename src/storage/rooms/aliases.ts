import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface AliasRow {
  room_alias: string;
  room_id: string;
  creator: string;
}

/** Maps an alias to a room; returns false (and changes nothing) if the alias is taken. */
export async function insertAlias(
  trx: Kysely<Database>,
  alias: string,
  roomId: string,
  creator: string,
): Promise<boolean> {
  const result = await trx
    .insertInto('room_aliases')
    .values({ room_alias: alias, room_id: roomId, creator })
    .onConflict((oc) => oc.column('room_alias').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function selectAlias(
  db: Kysely<Database>,
  alias: string,
): Promise<AliasRow | undefined> {
  return db
    .selectFrom('room_aliases')
    .selectAll()
    .where('room_alias', '=', alias)
    .executeTakeFirst();
}

/** Removes an alias; returns whether it existed. */
export async function deleteAlias(trx: Kysely<Database>, alias: string): Promise<boolean> {
  const result = await trx
    .deleteFrom('room_aliases')
    .where('room_alias', '=', alias)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** A room's local aliases, sorted. */
export async function selectAliasesOfRoom(db: Kysely<Database>, roomId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('room_aliases')
    .select('room_alias')
    .where('room_id', '=', roomId)
    .orderBy('room_alias')
    .execute();
  return rows.map((row) => row.room_alias);
}
