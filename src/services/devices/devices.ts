import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { invalidParam, notFound } from '../../core/errors.js';
import {
  deleteAllDevices,
  deleteDeviceTokens,
  deleteDevices,
  insertDevice,
  selectDevice,
  selectDevices,
  updateDeviceDisplayName,
  updateDeviceLastSeen,
  type DeviceRow,
} from '../../storage/accounts/devices.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';
import type { DeviceLists } from './device-lists.js';
import type { UiaAuthorisation } from '../user-interactive-auth/user-interactive-auth.js';

/** A device as the client-server API shows it (`definitions/client_device.yaml`). */
export interface ClientDevice {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
}

/** Devices of a user that went away. */
export interface DevicesDeleted {
  userId: string;
  deviceIds: string[];
}

export const MAX_DEVICE_ID_LENGTH = 255;
export const MAX_DEVICE_DISPLAY_NAME_LENGTH = 255;
const GENERATED_DEVICE_ID_LENGTH = 10;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * A user's devices: listing, renaming, opening one for a new session, deleting. Creating,
 * renaming and deleting a device changes the user's device list (recorded by the storage
 * functions, in the same transaction); the change is announced through `deviceLists`.
 */
export class Devices {
  readonly deleted: Listeners<DevicesDeleted>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    logger: Logger,
    private readonly deviceLists: DeviceLists,
  ) {
    this.deleted = new Listeners(logger, 'devices deleted');
    // Every deletion (logout, `DELETE /devices`, password change, deactivation) emits `deleted`.
    this.deleted.add(({ userId }) => deviceLists.announce(userId));
  }

  async list(userId: string): Promise<ClientDevice[]> {
    const rows = await this.db.read((db) => selectDevices(db, userId));
    return rows.map(toClientDevice);
  }

  /** 404 M_NOT_FOUND when the user has no such device. */
  async get(userId: string, deviceId: string): Promise<ClientDevice> {
    const row = await this.db.read((db) => selectDevice(db, userId, deviceId));
    if (row === undefined) throw notFound('Device not found');
    return toClientDevice(row);
  }

  /**
   * Sets a device's display name (unchanged when undefined); 404 M_NOT_FOUND when the user has
   * no such device.
   */
  async rename(userId: string, deviceId: string, displayName: string | undefined): Promise<void> {
    if (displayName === undefined) {
      await this.get(userId, deviceId);
      return;
    }
    checkDisplayName(displayName);
    const found = await this.db.transact((trx) =>
      updateDeviceDisplayName(trx, userId, deviceId, displayName),
    );
    if (!found) throw notFound('Device not found');
    await this.deviceLists.announce(userId);
  }

  /** After the transaction that opened a session's device (`open`) committed. */
  async announceOpened(userId: string): Promise<void> {
    await this.deviceLists.announce(userId);
  }

  /**
   * Opens the device of a new session, inside the caller's transaction: a new one (with a
   * generated ID unless `deviceId` is given), or the existing one named `deviceId`, whose
   * earlier tokens are revoked and whose display name is kept.
   */
  async open(
    trx: Kysely<Database>,
    params: {
      userId: string;
      deviceId?: string;
      displayName?: string;
      ip: string | null;
    },
  ): Promise<string> {
    const { userId, ip } = params;
    const now = this.clock.now();
    if (params.deviceId !== undefined) {
      checkDeviceId(params.deviceId);
      const existing = await selectDevice(trx, userId, params.deviceId);
      if (existing !== undefined) {
        await deleteDeviceTokens(trx, userId, [params.deviceId]);
        await updateDeviceLastSeen(trx, userId, params.deviceId, now, ip);
        return params.deviceId;
      }
    }
    const displayName =
      params.displayName === undefined
        ? null
        : params.displayName.slice(0, MAX_DEVICE_DISPLAY_NAME_LENGTH);
    let deviceId = params.deviceId;
    while (deviceId === undefined) {
      const candidate = generateDeviceId();
      if ((await selectDevice(trx, userId, candidate)) === undefined) deviceId = candidate;
    }
    await insertDevice(trx, { userId, deviceId, displayName, ip, now });
    return deviceId;
  }

  /**
   * Deletes devices and their tokens, after user-interactive auth: the auth session is used up
   * in the same transaction. Devices that do not exist are ignored.
   */
  async delete(
    userId: string,
    deviceIds: readonly string[],
    authorisation: UiaAuthorisation,
  ): Promise<void> {
    const deleted = await this.db.transact(async (trx) => {
      await authorisation.commit(trx);
      return deleteDevices(trx, userId, deviceIds);
    });
    if (deleted.length > 0) await this.deleted.emit({ userId, deviceIds: deleted });
  }

  /** `POST /logout`: deletes the device of the session with its tokens. */
  async logout(userId: string, deviceId: string): Promise<void> {
    const deleted = await this.db.transact((trx) => deleteDevices(trx, userId, [deviceId]));
    if (deleted.length > 0) await this.deleted.emit({ userId, deviceIds: deleted });
  }

  /** `POST /logout/all`: deletes every device of the user with their tokens. */
  async logoutAll(userId: string): Promise<void> {
    const deleted = await this.db.transact((trx) => deleteAllDevices(trx, userId));
    if (deleted.length > 0) await this.deleted.emit({ userId, deviceIds: deleted });
  }
}

export function checkDeviceId(deviceId: string): void {
  if (deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID_LENGTH) {
    throw invalidParam(`device_id must be 1 to ${MAX_DEVICE_ID_LENGTH} characters`);
  }
}

function checkDisplayName(displayName: string): void {
  if (displayName.length > MAX_DEVICE_DISPLAY_NAME_LENGTH) {
    throw invalidParam(`display_name must be at most ${MAX_DEVICE_DISPLAY_NAME_LENGTH} characters`);
  }
}

/** Ten upper-case letters, like Synapse's generated device IDs. */
function generateDeviceId(): string {
  let id = '';
  for (let i = 0; i < GENERATED_DEVICE_ID_LENGTH; i++) id += LETTERS[randomInt(LETTERS.length)];
  return id;
}

function toClientDevice(row: DeviceRow): ClientDevice {
  const device: ClientDevice = { device_id: row.device_id };
  if (row.display_name !== null) device.display_name = row.display_name;
  if (row.last_seen_ip !== null) device.last_seen_ip = row.last_seen_ip;
  if (row.last_seen_ts !== null) device.last_seen_ts = row.last_seen_ts;
  return device;
}
