/**
 * The end-to-end encryption fields of `/sync` (client-server API "Extensions to /sync"): how
 * many one-time keys the syncing device has left per algorithm, and which of its fallback keys
 * no claim handed out yet, so the device knows when to upload more or replace them.
 */
import {
  countOneTimeKeys,
  selectUnusedFallbackKeyAlgorithms,
} from '../../storage/e2ee/one-time-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { withSignedCurve25519 } from './key-upload.js';

export interface SyncKeyCounts {
  /** Always has `signed_curve25519` (0 when none left), as Synapse does. */
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

export async function syncKeyCounts(
  db: TenantDatabase,
  device: { readonly userId: string; readonly deviceId?: string },
): Promise<SyncKeyCounts> {
  const { userId, deviceId } = device;
  if (deviceId === undefined) {
    return { device_one_time_keys_count: {}, device_unused_fallback_key_types: [] };
  }
  return db.read(async (reader) => ({
    device_one_time_keys_count: withSignedCurve25519(
      await countOneTimeKeys(reader, { userId, deviceId }),
    ),
    device_unused_fallback_key_types: await selectUnusedFallbackKeyAlgorithms(reader, {
      userId,
      deviceId,
    }),
  }));
}
