import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';

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
