import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from './batches.js';
import type { Database } from '../schema.js';

/** The room's oldest accepted events looked at for missing prev events. */
const OLDEST_EVENTS_LOOKED_AT = 200;

/**
 * Where a room's stored history starts and could go further back (backfill): the prev events,
 * not stored in the room's graph (unknown, or known only as outliers), of the room's oldest
 * accepted events — those fetched from its past (negative stream positions) and its first event
 * stored as it happened (for a room joined over federation, this server's join). Only the
 * `OLDEST_EVENTS_LOOKED_AT` oldest events are looked at (one index range), and gaps in the
 * middle of the timeline are not listed. Deepest first, at most `limit`.
 */
export async function selectBackfillPoints(
  db: Kysely<Database>,
  roomId: string,
  limit: number,
): Promise<string[]> {
  const oldest = await db
    .selectFrom('events')
    .select(['event_id', 'stream_ordering'])
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('rejected_reason', 'is', null)
    .orderBy('stream_ordering', 'asc')
    .limit(OLDEST_EVENTS_LOOKED_AT)
    .execute();
  const firstLive = oldest.find((row) => Number(row.stream_ordering) > 0);
  const children = oldest
    .filter((row) => Number(row.stream_ordering) < 0 || row === firstLive)
    .map((row) => row.event_id);
  const points = new Map<string, number>();
  for (const batch of batches(children, MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('event_prev_events as edge')
      .innerJoin('events as child', 'child.event_id', 'edge.event_id')
      .leftJoin('events as prev', 'prev.event_id', 'edge.prev_event_id')
      .select(['edge.prev_event_id', 'child.depth'])
      .where('edge.event_id', 'in', batch)
      .where((eb) => eb.or([eb('prev.event_id', 'is', null), eb('prev.outlier', '=', 1)]))
      .execute();
    for (const row of rows) {
      points.set(row.prev_event_id, Math.max(points.get(row.prev_event_id) ?? 0, row.depth));
    }
  }
  return [...points]
    .sort(([idA, depthA], [idB, depthB]) => depthB - depthA || (idA < idB ? -1 : 1))
    .map(([id]) => id)
    .slice(0, limit);
}
