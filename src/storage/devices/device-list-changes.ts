/**
 * The device-list stream: one row per change of a user's device list, at its own position of
 * the `device_lists` sequence. `/sync` reads it for `device_lists.changed` (and
 * `/keys/changes` will).
 */
import type { Kysely } from 'kysely';
import { nextStreamPosition } from '../ephemeral/stream-positions.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

/**
 * Records that a user's device list changed, inside the transaction that changes it; returns
 * the change's position. On PostgreSQL the `device_lists` counter stays locked until commit, so
 * changes commit in the order of their positions.
 */
export async function insertDeviceListChange(
  trx: Kysely<Database>,
  userId: string,
): Promise<number> {
  const streamId = await nextStreamPosition(trx, 'device_lists');
  await trx
    .insertInto('device_list_changes')
    .values({ stream_id: streamId, user_id: userId })
    .execute();
  return streamId;
}

/**
 * The users joined to a room the user is joined to (the user included) whose device list
 * changed at a position in (`after`, `upTo`].
 */
export async function selectChangedUsersSharingRoomWith(
  db: Kysely<Database>,
  userId: string,
  after: number,
  upTo: number,
): Promise<string[]> {
  const rows = await db
    .selectFrom('room_memberships as mine')
    .innerJoin('room_memberships as other', 'other.room_id', 'mine.room_id')
    .innerJoin('device_list_changes as change', 'change.user_id', 'other.user_id')
    .select('other.user_id')
    .distinct()
    .where('mine.user_id', '=', userId)
    .where('mine.membership', '=', 'join')
    .where('other.membership', '=', 'join')
    .where('change.stream_id', '>', after)
    .where('change.stream_id', '<=', upTo)
    .execute();
  return rows.map((row) => row.user_id);
}

/** Which of `userIds` had their device list change at a position in (`after`, `upTo`]. */
export async function selectChangedUsersAmong(
  db: Kysely<Database>,
  userIds: readonly string[],
  after: number,
  upTo: number,
): Promise<Set<string>> {
  const found = new Set<string>();
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('device_list_changes')
      .select('user_id')
      .distinct()
      .where('user_id', 'in', batch)
      .where('stream_id', '>', after)
      .where('stream_id', '<=', upTo)
      .execute();
    for (const row of rows) found.add(row.user_id);
  }
  return found;
}
