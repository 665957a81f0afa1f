/**
 * Who shares a room with whom, and whose membership moved in a window of the events stream:
 * what `device_lists` needs to tell a client whom to start or stop tracking.
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

/**
 * The targets of the accepted member events of `roomIds` at stream positions in (`after`,
 * `upTo`], per room.
 */
export async function selectMembershipChangesBetween(
  db: Kysely<Database>,
  roomIds: readonly string[],
  after: number,
  upTo: number,
): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  if (after >= upTo) return found;
  for (const batch of batches([...new Set(roomIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('events')
      .select(['room_id', 'state_key'])
      .distinct()
      .where('room_id', 'in', batch)
      .where('type', '=', 'm.room.member')
      .where('state_key', 'is not', null)
      .where('outlier', '=', 0)
      .where('soft_failed', '=', 0)
      .where('rejected_reason', 'is', null)
      .where('stream_ordering', '>', after)
      .where('stream_ordering', '<=', upTo)
      .execute();
    for (const row of rows) {
      let users = found.get(row.room_id);
      if (users === undefined) {
        users = new Set();
        found.set(row.room_id, users);
      }
      users.add(row.state_key as string);
    }
  }
  return found;
}

/** Which of `userIds` are joined to a room the user is joined to (the user, if joined anywhere). */
export async function selectUsersSharingRoomAmong(
  db: Kysely<Database>,
  userId: string,
  userIds: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('room_memberships as mine')
      .innerJoin('room_memberships as other', 'other.room_id', 'mine.room_id')
      .select('other.user_id')
      .distinct()
      .where('mine.user_id', '=', userId)
      .where('mine.membership', '=', 'join')
      .where('other.membership', '=', 'join')
      .where('other.user_id', 'in', batch)
      .execute();
    for (const row of rows) found.add(row.user_id);
  }
  return found;
}

/** The current memberships in a room of some users, by user ID (users with none left out). */
export async function selectMembershipsInRoom(
  db: Kysely<Database>,
  roomId: string,
  userIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('room_memberships')
      .select(['user_id', 'membership'])
      .where('room_id', '=', roomId)
      .where('user_id', 'in', batch)
      .execute();
    for (const row of rows) found.set(row.user_id, row.membership);
  }
  return found;
}
