/**
 * Device-list changes: which users' devices changed, so that clients sharing a room with them
 * re-fetch their device keys (client-server API "Tracking the device list for a user").
 *
 * A change is recorded in the transaction that makes it (`recordDeviceListChange`; creating,
 * renaming and deleting devices do it in `src/storage/accounts/devices.ts`) and announced after
 * the commit (`announce`), which wakes the long-polls of the users who see it.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { insertDeviceListChange } from '../../storage/devices/device-list-changes.js';
import { selectSequenceValues } from '../../storage/ephemeral/stream-positions.js';
import { selectRoomsOfUser } from '../../storage/rooms/memberships.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';

/** A committed change of a user's device list, and the rooms whose members see it. */
export interface DeviceListChange {
  readonly userId: string;
  /** The `device_lists` position after the change. */
  readonly position: number;
  /** The rooms the user is joined to. */
  readonly roomIds: readonly string[];
}

export class DeviceLists {
  readonly changed: Listeners<DeviceListChange>;

  constructor(
    private readonly db: TenantDatabase,
    logger: Logger,
  ) {
    this.changed = new Listeners(logger, 'device list changed');
  }

  /**
   * Records, in the caller's transaction, that a user's device list changed (for device keys:
   * uploaded or changed identity keys, cross-signing keys); returns the change's position. Call
   * `announce` once the transaction committed.
   */
  recordDeviceListChange(trx: Kysely<Database>, userId: string): Promise<number> {
    return insertDeviceListChange(trx, userId);
  }

  /** Records and announces a change on its own. */
  async markChanged(userId: string): Promise<void> {
    await this.db.transact((trx) => insertDeviceListChange(trx, userId));
    await this.announce(userId);
  }

  /**
   * After a committed change of the user's device list: tells listeners (the notifier) at the
   * stream's current position, which is at or past the change.
   */
  async announce(userId: string): Promise<void> {
    const { position, roomIds } = await this.db.read(async (db) => {
      const values = await selectSequenceValues(db, ['device_lists']);
      const rooms = await selectRoomsOfUser(db, userId, ['join']);
      return { position: values.device_lists, roomIds: rooms.map((row) => row.room_id) };
    });
    await this.changed.emit({ userId, position, roomIds });
  }
}
