/**
 * Transaction IDs of `/sendToDevice`. A send records its ID in the transaction that stores its
 * messages; a retry finds it recorded and stores nothing.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { deleteRowsOfDevices } from '../accounts/device-rows.js';

export interface ToDeviceTxnKey {
  userId: string;
  deviceId: string;
  /** The path without the transaction ID, `/sendToDevice/{eventType}`. */
  scope: string;
  txnId: string;
}

/**
 * Records a transaction ID; false when it was already recorded (the request is a retry). On
 * PostgreSQL a concurrent insert of the same key waits for the first to commit, then loses.
 */
export async function insertToDeviceTxnId(
  trx: Kysely<Database>,
  key: ToDeviceTxnKey,
  now: number,
): Promise<boolean> {
  const inserted = await trx
    .insertInto('to_device_txn_ids')
    .values({
      user_id: key.userId,
      device_id: key.deviceId,
      scope: key.scope,
      txn_id: key.txnId,
      created_ts: now,
    })
    .onConflict((oc) => oc.columns(['user_id', 'device_id', 'scope', 'txn_id']).doNothing())
    .returning('txn_id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Forgets a device's transaction IDs recorded before `before` (ms). */
export async function deleteToDeviceTxnIdsBefore(
  trx: Kysely<Database>,
  userId: string,
  deviceId: string,
  before: number,
): Promise<void> {
  await trx
    .deleteFrom('to_device_txn_ids')
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .where('created_ts', '<', before)
    .execute();
}

/** Forgets the transaction IDs of deleted devices (a new device with the same ID starts afresh). */
export async function deleteToDeviceTxnIdsOfDevices(
  trx: Kysely<Database>,
  userId: string,
  deviceIds: readonly string[],
): Promise<void> {
  await deleteRowsOfDevices(trx, 'to_device_txn_ids', userId, deviceIds);
}
