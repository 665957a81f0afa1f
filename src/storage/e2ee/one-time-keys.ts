/**
 * One-time and fallback keys of devices (`/keys/upload`, `/keys/claim`). A one-time key is
 * handed out at most once: a claim deletes it in the claiming transaction. A fallback key is
 * handed out when a device has no one-time key left, and stays (marked used) until replaced.
 */
import type { Kysely } from 'kysely';
import { nextStreamPosition } from '../ephemeral/stream-positions.js';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

export interface DeviceRef {
  userId: string;
  deviceId: string;
}

/** A key as uploaded: `<algorithm>:<keyId>` and its JSON text. */
export interface StoredKey {
  algorithm: string;
  keyId: string;
  keyJson: string;
}

/** The stored one-time keys of a device among `keyIds` (`<algorithm>:<keyId>` pairs). */
export async function selectOneTimeKeys(
  db: Kysely<Database>,
  device: DeviceRef,
  algorithm: string,
  keyIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const batch of batches([...keyIds], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('e2e_one_time_keys')
      .select(['key_id', 'key_json'])
      .where('user_id', '=', device.userId)
      .where('device_id', '=', device.deviceId)
      .where('algorithm', '=', algorithm)
      .where('key_id', 'in', batch)
      .execute();
    for (const row of rows) found.set(row.key_id, row.key_json);
  }
  return found;
}

/** Stores new one-time keys of a device as one upload (they share an upload position). */
export async function insertOneTimeKeys(
  trx: Kysely<Database>,
  device: DeviceRef,
  keys: readonly StoredKey[],
): Promise<void> {
  if (keys.length === 0) return;
  const uploadId = await nextStreamPosition(trx, 'one_time_key_uploads');
  for (const batch of batches([...keys], MAX_ROWS_PER_INSERT)) {
    await trx
      .insertInto('e2e_one_time_keys')
      .values(
        batch.map((key) => ({
          user_id: device.userId,
          device_id: device.deviceId,
          algorithm: key.algorithm,
          key_id: key.keyId,
          key_json: key.keyJson,
          upload_id: uploadId,
        })),
      )
      .execute();
  }
}

/** How many unclaimed one-time keys a device holds, per algorithm. */
export async function countOneTimeKeys(
  db: Kysely<Database>,
  device: DeviceRef,
): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('e2e_one_time_keys')
    .select(['algorithm', (eb) => eb.fn.countAll<number | string>().as('count')])
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .groupBy('algorithm')
    .execute();
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.algorithm] = Number(row.count);
  return counts;
}

/**
 * Takes the oldest one-time key of a device and algorithm: deletes it and returns it. Two
 * concurrent claims never get the same key: a delete that finds the row already gone (taken by
 * a transaction that committed meanwhile) deletes nothing, and the next oldest is tried.
 */
export async function takeOneTimeKey(
  trx: Kysely<Database>,
  device: DeviceRef,
  algorithm: string,
): Promise<StoredKey | undefined> {
  for (;;) {
    const oldest = await trx
      .selectFrom('e2e_one_time_keys')
      .select(['key_id', 'key_json'])
      .where('user_id', '=', device.userId)
      .where('device_id', '=', device.deviceId)
      .where('algorithm', '=', algorithm)
      .orderBy('upload_id')
      .orderBy('key_id')
      .limit(1)
      .executeTakeFirst();
    if (oldest === undefined) return undefined;
    const deleted = await trx
      .deleteFrom('e2e_one_time_keys')
      .where('user_id', '=', device.userId)
      .where('device_id', '=', device.deviceId)
      .where('algorithm', '=', algorithm)
      .where('key_id', '=', oldest.key_id)
      .returning('key_json')
      .executeTakeFirst();
    if (deleted !== undefined) {
      return { algorithm, keyId: oldest.key_id, keyJson: deleted.key_json };
    }
  }
}

/** The fallback key of a device for an algorithm, with whether it was handed out. */
export async function selectFallbackKey(
  db: Kysely<Database>,
  device: DeviceRef,
  algorithm: string,
): Promise<(StoredKey & { used: boolean }) | undefined> {
  const row = await db
    .selectFrom('e2e_fallback_keys')
    .select(['key_id', 'key_json', 'used'])
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .where('algorithm', '=', algorithm)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { algorithm, keyId: row.key_id, keyJson: row.key_json, used: Number(row.used) === 1 };
}

/** Stores a device's fallback key of an algorithm, unused, replacing the previous one. */
export async function upsertFallbackKey(
  trx: Kysely<Database>,
  device: DeviceRef,
  key: StoredKey,
): Promise<void> {
  await trx
    .insertInto('e2e_fallback_keys')
    .values({
      user_id: device.userId,
      device_id: device.deviceId,
      algorithm: key.algorithm,
      key_id: key.keyId,
      key_json: key.keyJson,
      used: 0,
    })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'device_id', 'algorithm'])
        .doUpdateSet({ key_id: key.keyId, key_json: key.keyJson, used: 0 }),
    )
    .execute();
}

/** Hands out a device's fallback key of an algorithm: marks it used and returns it. */
export async function takeFallbackKey(
  trx: Kysely<Database>,
  device: DeviceRef,
  algorithm: string,
): Promise<StoredKey | undefined> {
  const key = await selectFallbackKey(trx, device, algorithm);
  if (key === undefined) return undefined;
  if (!key.used) {
    await trx
      .updateTable('e2e_fallback_keys')
      .set({ used: 1 })
      .where('user_id', '=', device.userId)
      .where('device_id', '=', device.deviceId)
      .where('algorithm', '=', algorithm)
      .execute();
  }
  return { algorithm, keyId: key.keyId, keyJson: key.keyJson };
}

/** The algorithms a device has a fallback key for that no claim handed out yet, sorted. */
export async function selectUnusedFallbackKeyAlgorithms(
  db: Kysely<Database>,
  device: DeviceRef,
): Promise<string[]> {
  const rows = await db
    .selectFrom('e2e_fallback_keys')
    .select('algorithm')
    .where('user_id', '=', device.userId)
    .where('device_id', '=', device.deviceId)
    .where('used', '=', 0)
    .orderBy('algorithm')
    .execute();
  return rows.map((row) => row.algorithm);
}
