/**
 * Devices' published identity keys (`/keys/upload` `device_keys`), read back by `/keys/query`
 * with the device's display name, and deleted with the device.
 */
import type { Kysely } from 'kysely';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

export interface StoredDeviceKeys {
  userId: string;
  deviceId: string;
  /** The uploaded object as JSON text. */
  keyJson: string;
  displayName: string | null;
}

/** The stored identity keys of one device, as JSON text. */
export async function selectDeviceKeysJson(
  db: Kysely<Database>,
  userId: string,
  deviceId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('e2e_device_keys')
    .select('key_json')
    .where('user_id', '=', userId)
    .where('device_id', '=', deviceId)
    .executeTakeFirst();
  return row?.key_json;
}

/** Stores (or replaces) a device's identity keys. */
export async function upsertDeviceKeys(
  trx: Kysely<Database>,
  userId: string,
  deviceId: string,
  keyJson: string,
): Promise<void> {
  await trx
    .insertInto('e2e_device_keys')
    .values({ user_id: userId, device_id: deviceId, key_json: keyJson })
    .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({ key_json: keyJson }))
    .execute();
}

/**
 * The identity keys of a user's existing devices: those named (every device when `deviceIds` is
 * undefined), by device ID order. Devices without keys are left out.
 */
export async function selectDeviceKeysOfUser(
  db: Kysely<Database>,
  userId: string,
  deviceIds?: readonly string[],
): Promise<StoredDeviceKeys[]> {
  const query = () =>
    db
      .selectFrom('e2e_device_keys as k')
      .innerJoin('devices as d', (join) =>
        join.onRef('d.user_id', '=', 'k.user_id').onRef('d.device_id', '=', 'k.device_id'),
      )
      .select(['k.user_id', 'k.device_id', 'k.key_json', 'd.display_name'])
      .where('k.user_id', '=', userId)
      .orderBy('k.device_id');
  const rows = [];
  if (deviceIds === undefined) rows.push(...(await query().execute()));
  else {
    for (const batch of batches([...new Set(deviceIds)], MAX_IDS_PER_QUERY)) {
      rows.push(...(await query().where('k.device_id', 'in', batch).execute()));
    }
  }
  return rows.map((row) => ({
    userId: row.user_id,
    deviceId: row.device_id,
    keyJson: row.key_json,
    displayName: row.display_name,
  }));
}

/**
 * Deletes every end-to-end key of some devices: identity keys, one-time and fallback keys, and
 * signatures of those devices' keys. Runs inside the transaction that deletes the devices.
 */
export async function deleteE2eKeysOfDevices(
  trx: Kysely<Database>,
  userId: string,
  deviceIds: readonly string[],
): Promise<void> {
  for (const batch of batches([...deviceIds], MAX_IDS_PER_QUERY)) {
    for (const table of ['e2e_device_keys', 'e2e_one_time_keys', 'e2e_fallback_keys'] as const) {
      await trx
        .deleteFrom(table)
        .where('user_id', '=', userId)
        .where('device_id', 'in', batch)
        .execute();
    }
    await trx
      .deleteFrom('e2e_key_signatures')
      .where('user_id', '=', userId)
      .where('key_id', 'in', batch)
      .execute();
  }
}
