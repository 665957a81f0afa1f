import type { Kysely, Selectable } from 'kysely';
import type { Database, RoomMembershipsTable } from '../schema.js';

export type MembershipRow = Selectable<RoomMembershipsTable>;

/** What a newly stored `m.room.member` event says about its target. */
export interface MembershipChange {
  roomId: string;
  userId: string;
  membership: string;
  eventId: string;
  streamOrdering: number;
  sender: string;
  displayname: string | null;
  avatarUrl: string | null;
}

/**
 * Records a user's current membership in a room. Call it in the transaction that stores the
 * member event, so the table never disagrees with the room state. A join also moves
 * `last_join_stream_ordering`.
 */
export async function upsertMembership(
  trx: Kysely<Database>,
  change: MembershipChange,
): Promise<void> {
  const values = {
    membership: change.membership,
    event_id: change.eventId,
    stream_ordering: change.streamOrdering,
    sender: change.sender,
    displayname: change.displayname,
    avatar_url: change.avatarUrl,
  };
  const joined = change.membership === 'join' ? change.streamOrdering : null;
  await trx
    .insertInto('room_memberships')
    .values({
      room_id: change.roomId,
      user_id: change.userId,
      ...values,
      last_join_stream_ordering: joined,
    })
    .onConflict((oc) =>
      oc
        .columns(['room_id', 'user_id'])
        .doUpdateSet(joined === null ? values : { ...values, last_join_stream_ordering: joined }),
    )
    .execute();
}

export async function selectMembership(
  db: Kysely<Database>,
  roomId: string,
  userId: string,
): Promise<MembershipRow | undefined> {
  return db
    .selectFrom('room_memberships')
    .selectAll()
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** The rooms where a user's current membership is one of `memberships`, by room ID. */
export async function selectRoomsOfUser(
  db: Kysely<Database>,
  userId: string,
  memberships: readonly string[],
): Promise<MembershipRow[]> {
  if (memberships.length === 0) return [];
  return db
    .selectFrom('room_memberships')
    .selectAll()
    .where('user_id', '=', userId)
    .where('membership', 'in', memberships)
    .orderBy('room_id')
    .execute();
}

/** A room's members with one of `memberships` (all of them when not given), by user ID. */
export async function selectMembersOfRoom(
  db: Kysely<Database>,
  roomId: string,
  memberships?: readonly string[],
): Promise<MembershipRow[]> {
  let query = db.selectFrom('room_memberships').selectAll().where('room_id', '=', roomId);
  if (memberships !== undefined) {
    if (memberships.length === 0) return [];
    query = query.where('membership', 'in', memberships);
  }
  return query.orderBy('user_id').execute();
}

/** How many users are joined to each of the rooms, by room ID (rooms with none are left out). */
export async function countJoinedMembers(
  db: Kysely<Database>,
  roomIds: readonly string[],
): Promise<Map<string, number>> {
  if (roomIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('room_memberships')
    .select(['room_id', (eb) => eb.fn.countAll<number>().as('joined')])
    .where('room_id', 'in', roomIds)
    .where('membership', '=', 'join')
    .groupBy('room_id')
    .execute();
  return new Map(rows.map((row) => [row.room_id, Number(row.joined)]));
}
