import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export async function insertForgottenRoom(
  trx: Kysely<Database>,
  userId: string,
  roomId: string,
): Promise<void> {
  await trx
    .insertInto('forgotten_rooms')
    .values({ user_id: userId, room_id: roomId })
    .onConflict((oc) => oc.columns(['user_id', 'room_id']).doNothing())
    .execute();
}

/** A new membership in the room makes the user remember it again. */
export async function deleteForgottenRoom(
  trx: Kysely<Database>,
  userId: string,
  roomId: string,
): Promise<void> {
  await trx
    .deleteFrom('forgotten_rooms')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .execute();
}

export async function isRoomForgotten(
  db: Kysely<Database>,
  userId: string,
  roomId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('forgotten_rooms')
    .select('room_id')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .executeTakeFirst();
  return row !== undefined;
}
