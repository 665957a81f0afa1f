/**
 * The to-device inbox: messages stored for each target device until a sync of that device
 * acknowledges them (presents a token at or past their position).
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';
import { deleteRowsOfDevices } from '../accounts/device-rows.js';

/** One message for one device. */
export interface InboxMessage {
  userId: string;
  deviceId: string;
  /** Its position in the `to_device` stream. */
  streamId: number;
  sender: string;
  type: string;
  /** JSON text. */
  content: string;
}

export async function insertInboxMessages(
  trx: Kysely<Database>,
  messages: readonly InboxMessage[],
): Promise<void> {
  for (const batch of batches(messages, MAX_ROWS_PER_INSERT)) {
    await trx
      .insertInto('to_device_inbox')
      .values(
        batch.map((message) => ({
          user_id: message.userId,
          device_id: message.deviceId,
          stream_id: message.streamId,
          sender: message.sender,
          type: message.type,
          content: message.content,
        })),
      )
      .execute();
  }
}

/** A device's messages at positions in (`after`, `upTo`], oldest first, at most `limit`. */
export async function selectInboxMessages(
  db: Kysely<Database>,
  device: { userId: string; deviceId: string },
  after: number,
  upTo: number,
  limit: number,
): Promise<InboxMessage[]> {
  const rows = await db
    .selectFrom('to_device_inbox')
    .selectAll()
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .where('stream_id', '>', after)
    .where('stream_id', '<=', upTo)
    .orderBy('stream_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    userId: row.user_id,
    deviceId: row.device_id,
    streamId: Number(row.stream_id),
    sender: row.sender,
    type: row.type,
    content: row.content,
  }));
}

/** Whether a device has messages at or below `upTo` (that a sync would acknowledge). */
export async function hasInboxMessagesUpTo(
  db: Kysely<Database>,
  device: { userId: string; deviceId: string },
  upTo: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('to_device_inbox')
    .select('stream_id')
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .where('stream_id', '<=', upTo)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes a device's messages at or below `upTo` (delivered and acknowledged). */
export async function deleteInboxMessagesUpTo(
  trx: Kysely<Database>,
  device: { userId: string; deviceId: string },
  upTo: number,
): Promise<void> {
  await trx
    .deleteFrom('to_device_inbox')
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .where('stream_id', '<=', upTo)
    .execute();
}

/** Deletes every pending message of deleted devices. */
export async function deleteInboxOfDevices(
  trx: Kysely<Database>,
  userId: string,
  deviceIds: readonly string[],
): Promise<void> {
  await deleteRowsOfDevices(trx, 'to_device_inbox', userId, deviceIds);
}

/** The device IDs of each of `userIds` that has devices (for addressing messages). */
export async function selectDeviceIdsOfUsers(
  db: Kysely<Database>,
  userIds: readonly string[],
): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  for (const batch of batches([...new Set(userIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('devices')
      .select(['user_id', 'device_id'])
      .where('user_id', 'in', batch)
      .execute();
    for (const row of rows) {
      let devices = found.get(row.user_id);
      if (devices === undefined) {
        devices = new Set();
        found.set(row.user_id, devices);
      }
      devices.add(row.device_id);
    }
  }
  return found;
}
