import type { Kysely, Selectable } from 'kysely';
import { insertDeviceListChange } from '../devices/device-list-changes.js';
import { deleteInboxOfDevices } from '../devices/to-device-inbox.js';
import { deleteToDeviceTxnIdsOfDevices } from '../devices/to-device-txn-ids.js';
import { deleteE2eKeysOfDevices } from '../e2ee/device-keys.js';
import type { Database, DevicesTable } from '../schema.js';

export type DeviceRow = Selectable<DevicesTable>;

export interface NewDevice {
  userId: string;
  deviceId: string;
  displayName: string | null;
  ip: string | null;
  now: number;
}

/** Creates a device; the user's device list changes (the `device_lists` stream moves). */
export async function insertDevice(trx: Kysely<Database>, device: NewDevice): Promise<void> {
  await trx
    .insertInto('devices')
    .values({
      user_id: device.userId,
      device_id: device.deviceId,
      display_name: device.displayName,
      last_seen_ts: device.now,
      last_seen_ip: device.ip,
      created_ts: device.now,
    })
    .execute();
  await insertDeviceListChange(trx, device.userId);
}

export async function selectDevice(
  db: Kysely<Database>,
  userId: string,
  deviceId: string,
): Promise<DeviceRow | undefined> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .executeTakeFirst();
}

export async function selectDevices(db: Kysely<Database>, userId: string): Promise<DeviceRow[]> {
  return db
    .selectFrom('devices')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('device_id')
    .execute();
}

/**
 * Renames a device (a change of the user's device list); returns false when the user has no
 * such device.
 */
export async function updateDeviceDisplayName(
  trx: Kysely<Database>,
  userId: string,
  deviceId: string,
  displayName: string | null,
): Promise<boolean> {
  const result = await trx
    .updateTable('devices')
    .set({ display_name: displayName })
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .executeTakeFirst();
  const found = Number(result.numUpdatedRows) === 1;
  if (found) await insertDeviceListChange(trx, userId);
  return found;
}

export async function updateDeviceLastSeen(
  trx: Kysely<Database>,
  userId: string,
  deviceId: string,
  ts: number,
  ip: string | null,
): Promise<void> {
  await trx
    .updateTable('devices')
    .set({ last_seen_ts: ts, last_seen_ip: ip })
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .execute();
}

/**
 * Deletes the access and refresh tokens of some of a user's devices (all of them when
 * `deviceIds` is undefined), keeping the devices.
 */
export async function deleteDeviceTokens(
  trx: Kysely<Database>,
  userId: string,
  deviceIds?: readonly string[],
): Promise<void> {
  if (deviceIds !== undefined && deviceIds.length === 0) return;
  // Access tokens first: they reference refresh tokens.
  await trx
    .deleteFrom('access_tokens')
    .where('user_id', '=', userId)
    .$if(deviceIds !== undefined, (qb) => qb.where('device_id', 'in', deviceIds ?? []))
    .execute();
  await trx
    .deleteFrom('refresh_tokens')
    .where('user_id', '=', userId)
    .$if(deviceIds !== undefined, (qb) => qb.where('device_id', 'in', deviceIds ?? []))
    .execute();
}

/**
 * Deletes devices with their access and refresh tokens, pending to-device messages, to-device
 * transaction IDs and end-to-end keys; returns the IDs that existed. The user's device list
 * changes when any did.
 */
export async function deleteDevices(
  trx: Kysely<Database>,
  userId: string,
  deviceIds: readonly string[],
): Promise<string[]> {
  if (deviceIds.length === 0) return [];
  await deleteDeviceTokens(trx, userId, deviceIds);
  const deleted = await trx
    .deleteFrom('devices')
    .where('user_id', '=', userId)
    .where('device_id', 'in', deviceIds)
    .returning('device_id')
    .execute();
  const deletedIds = deleted.map((row) => row.device_id);
  if (deletedIds.length > 0) {
    await deleteInboxOfDevices(trx, userId, deletedIds);
    await deleteToDeviceTxnIdsOfDevices(trx, userId, deletedIds);
    await deleteE2eKeysOfDevices(trx, userId, deletedIds);
    await insertDeviceListChange(trx, userId);
  }
  return deletedIds;
}

/**
 * Deletes all of a user's devices (but `exceptDeviceId`, when given) with their tokens; returns
 * the IDs deleted.
 */
export async function deleteAllDevices(
  trx: Kysely<Database>,
  userId: string,
  exceptDeviceId?: string,
): Promise<string[]> {
  const doomed = (await selectDevices(trx, userId))
    .map((device) => device.device_id)
    .filter((deviceId) => deviceId !== exceptDeviceId);
  return deleteDevices(trx, userId, doomed);
}
