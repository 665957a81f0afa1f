import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

/** Tables holding rows that belong to one device of a user, and go when the device goes. */
export type PerDeviceTable = 'event_txn_ids' | 'to_device_inbox' | 'to_device_txn_ids';

/** Deletes the rows of `table` that belong to the given devices of `userId`. */
export async function deleteRowsOfDevices(
  trx: Kysely<Database>,
  table: PerDeviceTable,
  userId: string,
  deviceIds: readonly string[],
): Promise<void> {
  for (const batch of batches([...new Set(deviceIds)], MAX_IDS_PER_QUERY)) {
    await trx
      .deleteFrom(table)
      .where('user_id', '=', userId)
      .where('device_id', 'in', batch)
      .execute();
  }
}
