import {
  selectShareARoom,
  selectUsersSharingRoomWith,
} from '../../storage/ephemeral/memberships.js';
import { selectMembership, selectRoomsOfUser } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';

/**
 * The membership questions typing, receipts and presence ask, answered from the current
 * memberships the rooms code keeps (`room_memberships`). An interface, so that the ephemeral
 * services can be tested without rooms.
 */
export interface MembershipLookup {
  isJoined(roomId: string, userId: string): Promise<boolean>;
  joinedRoomIds(userId: string): Promise<string[]>;
  /** Users joined to a room the user is joined to, the user included when joined anywhere. */
  usersSharingRoomWith(userId: string): Promise<string[]>;
  shareARoom(userId: string, otherUserId: string): Promise<boolean>;
}

export class StoredMembershipLookup implements MembershipLookup {
  constructor(private readonly db: TenantDatabase) {}

  isJoined(roomId: string, userId: string): Promise<boolean> {
    return this.db.read(
      async (db) => (await selectMembership(db, roomId, userId))?.membership === 'join',
    );
  }

  joinedRoomIds(userId: string): Promise<string[]> {
    return this.db.read(async (db) =>
      (await selectRoomsOfUser(db, userId, ['join'])).map((row) => row.room_id),
    );
  }

  usersSharingRoomWith(userId: string): Promise<string[]> {
    return this.db.read((db) => selectUsersSharingRoomWith(db, userId));
  }

  shareARoom(userId: string, otherUserId: string): Promise<boolean> {
    return this.db.read((db) => selectShareARoom(db, userId, otherUserId));
  }
}
