import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import { deleteRowsOfDevices } from '../accounts/device-rows.js';

/** A transaction ID is scoped to a device and an endpoint path (`scope`, without the ID). */
export interface TxnKey {
  userId: string;
  deviceId: string;
  scope: string;
  txnId: string;
}

/** The event a device's transaction ID produced, if any. */
export async function selectTxnEventId(
  db: Kysely<Database>,
  key: TxnKey,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('event_txn_ids')
    .select('event_id')
    .where('user_id', '=', key.userId)
    .where('device_id', '=', key.deviceId)
    .where('scope', '=', key.scope)
    .where('txn_id', '=', key.txnId)
    .executeTakeFirst();
  return row?.event_id;
}

/**
 * Records the event a transaction ID produced, in the transaction that stores the event.
 * Returns the event the ID is recorded for: `eventId`, or the one another request recorded
 * first.
 */
export async function insertTxnId(
  trx: Kysely<Database>,
  key: TxnKey,
  roomId: string,
  eventId: string,
): Promise<string> {
  const inserted = await trx
    .insertInto('event_txn_ids')
    .values({
      user_id: key.userId,
      device_id: key.deviceId,
      scope: key.scope,
      txn_id: key.txnId,
      event_id: eventId,
      room_id: roomId,
    })
    .onConflict((oc) => oc.columns(['user_id', 'device_id', 'scope', 'txn_id']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return eventId;
  return (await selectTxnEventId(trx, key)) ?? eventId;
}

/** The transaction IDs a device used for any of `eventIds`, by event ID. */
export async function selectTxnIdsOfEvents(
  db: Kysely<Database>,
  userId: string,
  deviceId: string,
  eventIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const batch of batches([...new Set(eventIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('event_txn_ids')
      .select(['event_id', 'txn_id'])
      .where('user_id', '=', userId)
      .where('device_id', '=', deviceId)
      .where('event_id', 'in', batch)
      .execute();
    for (const row of rows) found.set(row.event_id, row.txn_id);
  }
  return found;
}

/** Forgets the transaction IDs of deleted devices (a new device with the same ID starts afresh). */
export async function deleteTxnIdsOfDevices(
  trx: Kysely<Database>,
  userId: string,
  deviceIds: readonly string[],
): Promise<void> {
  await deleteRowsOfDevices(trx, 'event_txn_ids', userId, deviceIds);
}
