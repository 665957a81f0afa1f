import type { Kysely, Selectable } from 'kysely';
import type { Database, DevicesTable } from '../schema.js';

export type DeviceRow = Selectable<DevicesTable>;

export interface NewDevice {
  userId: string;
  deviceId: string;
  displayName: string | null;
  ip: string | null;
  now: number;
}

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

/** Returns false when the user has no such device. */
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
  return Number(result.numUpdatedRows) === 1;
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

/** Deletes devices with their access and refresh tokens; returns the IDs that existed. */
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
  return deleted.map((row) => row.device_id);
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
