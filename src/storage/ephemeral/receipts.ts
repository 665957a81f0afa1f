import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';
import { nextStreamPosition } from './stream-positions.js';

export interface ReceiptRecord {
  roomId: string;
  receiptType: string;
  userId: string;
  /** '' for an unthreaded receipt. */
  threadId: string;
  eventId: string;
  /** What clients get under the user ID (`ts`, `thread_id`). */
  data: Record<string, unknown>;
  streamId: number;
}

export type NewReceipt = Omit<ReceiptRecord, 'streamId'>;

/** `forUpdate` (PostgreSQL only) locks the row until the transaction ends. */
export async function selectReceipt(
  db: Kysely<Database>,
  key: Pick<ReceiptRecord, 'roomId' | 'receiptType' | 'userId' | 'threadId'>,
  options: { forUpdate?: boolean } = {},
): Promise<ReceiptRecord | undefined> {
  let query = db
    .selectFrom('receipts')
    .selectAll()
    .where('room_id', '=', key.roomId)
    .where('receipt_type', '=', key.receiptType)
    .where('user_id', '=', key.userId)
    .where('thread_id', '=', key.threadId);
  if (options.forUpdate === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/**
 * Sets the receipt of (room, type, user, thread) at the next position of the receipts stream,
 * replacing the one before; returns the position.
 */
export async function upsertReceipt(trx: Kysely<Database>, receipt: NewReceipt): Promise<number> {
  const streamId = await nextStreamPosition(trx, 'receipts');
  const data = JSON.stringify(receipt.data);
  await trx
    .insertInto('receipts')
    .values({
      room_id: receipt.roomId,
      receipt_type: receipt.receiptType,
      user_id: receipt.userId,
      thread_id: receipt.threadId,
      event_id: receipt.eventId,
      data,
      stream_id: streamId,
    })
    .onConflict((oc) =>
      oc
        .columns(['room_id', 'receipt_type', 'user_id', 'thread_id'])
        .doUpdateSet({ event_id: receipt.eventId, data, stream_id: streamId }),
    )
    .execute();
  return streamId;
}

/**
 * Receipts of `roomIds` set at positions in (`from`, `to`], oldest first, leaving out the
 * receipts of `privateTypes` of anyone but `viewerId`.
 */
export async function selectReceiptsBetween(
  db: Kysely<Database>,
  roomIds: readonly string[],
  from: number,
  to: number,
  viewerId: string,
  privateTypes: readonly string[],
): Promise<ReceiptRecord[]> {
  const records: ReceiptRecord[] = [];
  if (to <= from) return records;
  for (const batch of batches([...new Set(roomIds)], MAX_IDS_PER_QUERY)) {
    let query = db
      .selectFrom('receipts')
      .selectAll()
      .where('room_id', 'in', batch)
      .where('stream_id', '>', from)
      .where('stream_id', '<=', to);
    if (privateTypes.length > 0) {
      query = query.where((eb) =>
        eb.or([eb('receipt_type', 'not in', privateTypes), eb('user_id', '=', viewerId)]),
      );
    }
    for (const row of await query.execute()) records.push(toRecord(row));
  }
  return records.sort((a, b) => a.streamId - b.streamId);
}

function toRecord(row: {
  room_id: string;
  receipt_type: string;
  user_id: string;
  thread_id: string;
  event_id: string;
  data: string;
  stream_id: number;
}): ReceiptRecord {
  return {
    roomId: row.room_id,
    receiptType: row.receipt_type,
    userId: row.user_id,
    threadId: row.thread_id,
    eventId: row.event_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    streamId: Number(row.stream_id),
  };
}
