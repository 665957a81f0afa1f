import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Every user joined to a room the user is joined to (the user included, if joined anywhere). */
export async function selectUsersSharingRoomWith(
  db: Kysely<Database>,
  userId: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('room_memberships as mine')
    .innerJoin('room_memberships as other', 'other.room_id', 'mine.room_id')
    .select('other.user_id')
    .distinct()
    .where('mine.user_id', '=', userId)
    .where('mine.membership', '=', 'join')
    .where('other.membership', '=', 'join')
    .execute();
  return rows.map((row) => row.user_id);
}

/** Whether the two users are both joined to at least one room. */
export async function selectShareARoom(
  db: Kysely<Database>,
  userId: string,
  otherUserId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('room_memberships as mine')
    .innerJoin('room_memberships as other', 'other.room_id', 'mine.room_id')
    .select('mine.room_id')
    .where('mine.user_id', '=', userId)
    .where('mine.membership', '=', 'join')
    .where('other.user_id', '=', otherUserId)
    .where('other.membership', '=', 'join')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
