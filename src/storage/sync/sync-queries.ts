import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';

/** Event types that count as unread messages (what default push rules notify for). */
const NOTIFYING_TYPES = ['m.room.message', 'm.room.encrypted', 'm.sticker'];

/**
 * How many timeline events of `roomId` after stream position `after` (up to `upTo`) are
 * messages from someone else than `userId`.
 */
export async function countUnreadMessages(
  db: Kysely<Database>,
  roomId: string,
  userId: string,
  after: number,
  upTo: number,
): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('unread'))
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null)
    .where('stream_ordering', '>', after)
    .where('stream_ordering', '<=', upTo)
    .where('sender', '!=', userId)
    .where('type', 'in', NOTIFYING_TYPES)
    .executeTakeFirst();
  return Number(row?.unread ?? 0);
}

/** Which of `roomIds` have timeline events at stream positions in (`from`, `to`]. */
export async function selectRoomsWithEventsBetween(
  db: Kysely<Database>,
  roomIds: readonly string[],
  from: number,
  to: number,
): Promise<Set<string>> {
  const found = new Set<string>();
  for (const batch of batches([...new Set(roomIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('events')
      .select('room_id')
      .distinct()
      .where('room_id', 'in', batch)
      .where('outlier', '=', 0)
      .where('soft_failed', '=', 0)
      .where('rejected_reason', 'is', null)
      .where('stream_ordering', '>', from)
      .where('stream_ordering', '<=', to)
      .execute();
    for (const row of rows) found.add(row.room_id);
  }
  return found;
}
