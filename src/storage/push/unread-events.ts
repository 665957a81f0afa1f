/**
 * What notification counts read: where a user has read a room up to, and the room's timeline
 * events after that, with their PDUs (push rules match on any property of the event).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Receipts that mark the main timeline read: public or private, unthreaded or `main`. */
const READ_RECEIPT_TYPES = ['m.read', 'm.read.private'];
const MAIN_TIMELINE_THREADS = ['', 'main'];

/**
 * The stream position of the latest event of `roomId` that `userId` has a read receipt for
 * (spec "Marking notifications as read": the more recent of `m.read` and `m.read.private`); 0
 * without one. Receipts at events the room's timeline does not hold are ignored.
 */
export async function selectReadPosition(
  db: Kysely<Database>,
  roomId: string,
  userId: string,
): Promise<number> {
  const row = await db
    .selectFrom('receipts')
    .innerJoin('events', 'events.event_id', 'receipts.event_id')
    .select((eb) => eb.fn.max('events.stream_ordering').as('position'))
    .where('receipts.room_id', '=', roomId)
    .where('receipts.user_id', '=', userId)
    .where('receipts.receipt_type', 'in', READ_RECEIPT_TYPES)
    .where('receipts.thread_id', 'in', MAIN_TIMELINE_THREADS)
    .where('events.room_id', '=', roomId)
    .where('events.outlier', '=', 0)
    .executeTakeFirst();
  return Number(row?.position ?? 0);
}

/** A timeline event as notification counting reads it. */
export interface CountableEvent {
  streamOrdering: number;
  sender: string;
  /** Null for message events. */
  stateKey: string | null;
  /** The PDU as JSON text. */
  pdu: string;
}

/**
 * The timeline events of `roomId` at stream positions in (`after`, `upTo`], the latest `limit`
 * of them, oldest first. Outliers, rejected and soft-failed events are not part of the timeline.
 */
export async function selectEventsToCount(
  db: Kysely<Database>,
  roomId: string,
  after: number,
  upTo: number,
  limit: number,
): Promise<CountableEvent[]> {
  if (upTo <= after || limit <= 0) return [];
  const rows = await db
    .selectFrom('events')
    .select(['stream_ordering', 'sender', 'state_key', 'pdu'])
    .where('room_id', '=', roomId)
    .where('stream_ordering', '>', after)
    .where('stream_ordering', '<=', upTo)
    .where('outlier', '=', 0)
    .where('soft_failed', '=', 0)
    .where('rejected_reason', 'is', null)
    .orderBy('stream_ordering', 'desc')
    .limit(limit)
    .execute();
  return rows.reverse().map((row) => ({
    streamOrdering: Number(row.stream_ordering),
    sender: row.sender,
    stateKey: row.state_key,
    pdu: row.pdu,
  }));
}
