import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export type DirectoryVisibility = 'public' | 'private';

export async function upsertDirectoryVisibility(
  trx: Kysely<Database>,
  roomId: string,
  visibility: DirectoryVisibility,
): Promise<void> {
  await trx
    .insertInto('room_directory')
    .values({ room_id: roomId, visibility })
    .onConflict((oc) => oc.column('room_id').doUpdateSet({ visibility }))
    .execute();
}

/** A room's directory visibility: `private` unless it was published. */
export async function selectDirectoryVisibility(
  db: Kysely<Database>,
  roomId: string,
): Promise<DirectoryVisibility> {
  const row = await db
    .selectFrom('room_directory')
    .select('visibility')
    .where('room_id', '=', roomId)
    .executeTakeFirst();
  return row?.visibility ?? 'private';
}

/** Every room published in the directory, by room ID. */
export async function selectPublicRoomIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('room_directory')
    .select('room_id')
    .where('visibility', '=', 'public')
    .orderBy('room_id')
    .execute();
  return rows.map((row) => row.room_id);
}
