import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Records a room and its version unless the room is known already; returns the version stored
 * for it (the existing one if the room was there before).
 */
export async function insertRoom(
  trx: Kysely<Database>,
  roomId: string,
  roomVersion: string,
): Promise<string> {
  await trx
    .insertInto('rooms')
    .values({ room_id: roomId, room_version: roomVersion })
    .onConflict((oc) => oc.column('room_id').doNothing())
    .execute();
  const stored = await selectRoomVersion(trx, roomId);
  if (stored === undefined) throw new Error(`room ${roomId} vanished while being created`);
  return stored;
}

export async function selectRoomVersion(
  db: Kysely<Database>,
  roomId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('rooms')
    .select('room_version')
    .where('room_id', '=', roomId)
    .executeTakeFirst();
  return row?.room_version;
}
