import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';

/** An event of a room's timeline: accepted, part of the graph, not soft-failed. */
export interface TimelineRow {
  event_id: string;
  stream_ordering: number;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
}

export interface TimelineRange {
  /**
   * `b`: events at or before `from` (newest first), down to but excluding `to`.
   * `f`: events after `from` (oldest first), up to and including `to`.
   */
  dir: 'b' | 'f';
  from: number;
  to?: number;
  limit: number;
}

/** One page of a room's timeline in stream order, in the direction asked. */
export async function selectTimeline(
  db: Kysely<Database>,
  roomId: string,
  range: TimelineRange,
): Promise<TimelineRow[]> {
  let query = db
    .selectFrom('events')
    .select(['event_id', 'stream_ordering', 'type', 'state_key', 'sender', 'origin_server_ts'])
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null);
  if (range.dir === 'b') {
    query = query.where('stream_ordering', '<=', range.from);
    if (range.to !== undefined) query = query.where('stream_ordering', '>', range.to);
    query = query.orderBy('stream_ordering', 'desc');
  } else {
    query = query.where('stream_ordering', '>', range.from);
    if (range.to !== undefined) query = query.where('stream_ordering', '<=', range.to);
    query = query.orderBy('stream_ordering', 'asc');
  }
  return query.limit(range.limit).execute();
}

/**
 * Timeline events of a room by time: `f` the earliest at or after `ts`, `b` the latest at or
 * before it, ties broken by stream order; `offset` skips that many candidates.
 */
export async function selectEventsByTimestamp(
  db: Kysely<Database>,
  roomId: string,
  ts: number,
  dir: 'b' | 'f',
  limit: number,
  offset = 0,
): Promise<TimelineRow[]> {
  let query = db
    .selectFrom('events')
    .select(['event_id', 'stream_ordering', 'type', 'state_key', 'sender', 'origin_server_ts'])
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null);
  query =
    dir === 'f'
      ? query
          .where('origin_server_ts', '>=', ts)
          .orderBy('origin_server_ts', 'asc')
          .orderBy('stream_ordering', 'asc')
      : query
          .where('origin_server_ts', '<=', ts)
          .orderBy('origin_server_ts', 'desc')
          .orderBy('stream_ordering', 'desc');
  return query.limit(limit).offset(offset).execute();
}

/** The room's last timeline event at or before a stream position, if any. */
export async function selectLastEventAtOrBefore(
  db: Kysely<Database>,
  roomId: string,
  position: number,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('events')
    .select('event_id')
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null)
    .where('stream_ordering', '<=', position)
    .orderBy('stream_ordering', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.event_id;
}

/**
 * For stored state events among `eventIds`: the event their (type, state_key) held before them
 * (null: none). Events that replaced nothing, message events and outliers are left out.
 */
export async function selectReplacedStates(
  db: Kysely<Database>,
  eventIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const batch of batches([...new Set(eventIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('event_to_state_group')
      .select(['event_id', 'replaces_state'])
      .where('event_id', 'in', batch)
      .where('replaces_state', 'is not', null)
      .execute();
    for (const row of rows)
      if (row.replaces_state !== null) found.set(row.event_id, row.replaces_state);
  }
  return found;
}

/** The highest stream position handed out so far (0 before any event). */
export async function selectMaxStreamOrdering(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('sequences')
    .select('last_value')
    .where('name', '=', 'stream_ordering')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** The lowest stream position of the room's timeline events (undefined: none). */
export async function selectLowestStreamOrdering(
  db: Kysely<Database>,
  roomId: string,
): Promise<number | undefined> {
  const row = await db
    .selectFrom('events')
    .select('stream_ordering')
    .where('room_id', '=', roomId)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null)
    .orderBy('stream_ordering', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.stream_ordering);
}
