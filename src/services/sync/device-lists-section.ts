/**
 * `/sync`'s `device_lists` (client-server API "Tracking the device list for a user"): whom the
 * client should re-query the device keys of, and whom it can stop tracking.
 *
 * - `changed`: users sharing a joined room with the syncer (and the syncer) whose device list
 *   changed in (`since`, `to`]; plus the users the syncer newly shares a room with: every member
 *   of a room the syncer joined, every user who joined a room of the syncer (the spec allows
 *   this even when they already shared another room).
 * - `left`: users who shared a room with the syncer at `since` and share none now.
 *
 * Memberships at `since` come from the room state at that position, read only for the rooms
 * whose memberships moved since, and only for the users who moved. An initial sync has both
 * lists empty (the spec: only present on an incremental sync).
 */
import { stateKeyOf } from '../../protocol/room-event.js';
import {
  selectChangedUsersAmong,
  selectChangedUsersSharingRoomWith,
} from '../../storage/devices/device-list-changes.js';
import {
  selectMembershipChangesBetween,
  selectMembershipsInRoom,
  selectUsersSharingRoomAmong,
} from '../../storage/devices/shared-rooms.js';
import {
  selectMembersOfRoom,
  selectRoomsOfUser,
  type MembershipRow,
} from '../../storage/rooms/memberships.js';
import { selectLastEventAtOrBefore } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { SyncToken } from './sync-token.js';

export interface DeviceListsSection {
  changed: string[];
  left: string[];
}

export interface DeviceListsDeps {
  readonly db: TenantDatabase;
  readonly roomGraph: Pick<RoomGraph, 'stateAfterEvent' | 'getEvents'>;
}

/** Every membership but `join` is "not in the room" here. */
const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'];

export async function deviceListsSection(
  deps: DeviceListsDeps,
  userId: string,
  since: SyncToken | undefined,
  to: SyncToken,
  /** The user's rows of `room_memberships` (every membership), when the caller has them. */
  roomsOfUser?: readonly MembershipRow[],
): Promise<DeviceListsSection> {
  if (since === undefined) return { changed: [], left: [] };
  const { db } = deps;
  const changed = new Set<string>();
  const mayHaveLeft = new Set<string>();

  if (to.device_lists > since.device_lists) {
    const [after, upTo] = [since.device_lists, to.device_lists];
    const sharing = await db.read((reader) =>
      selectChangedUsersSharingRoomWith(reader, userId, after, upTo),
    );
    const own = await db.read((reader) => selectChangedUsersAmong(reader, [userId], after, upTo));
    for (const id of [...sharing, ...own]) changed.add(id);
  }

  if (to.events > since.events) {
    const rooms =
      roomsOfUser ?? (await db.read((reader) => selectRoomsOfUser(reader, userId, MEMBERSHIPS)));
    await addMembershipMoves(deps, userId, rooms, since.events, to.events, changed, mayHaveLeft);
  }

  mayHaveLeft.delete(userId);
  const stillSharing = await db.read((reader) =>
    selectUsersSharingRoomAmong(reader, userId, [...mayHaveLeft]),
  );
  const left = [...mayHaveLeft].filter((id) => !stillSharing.has(id));
  for (const id of left) changed.delete(id);
  return { changed: [...changed].sort(), left: left.sort() };
}

/**
 * For each room whose memberships moved in (`after`, `upTo`] and that the user was joined to
 * then or is now: adds the users the user newly shares it with to `changed`, and those it no
 * longer shares it with to `mayHaveLeft`.
 */
async function addMembershipMoves(
  deps: DeviceListsDeps,
  userId: string,
  roomsOfUser: readonly MembershipRow[],
  after: number,
  upTo: number,
  changed: Set<string>,
  mayHaveLeft: Set<string>,
): Promise<void> {
  const { db } = deps;
  // Rooms the user is joined to, or whose membership of the user moved since (left, banned).
  const rows = roomsOfUser.filter(
    (row) =>
      row.stream_ordering <= upTo && (row.membership === 'join' || row.stream_ordering > after),
  );
  const moves = await db.read((reader) =>
    selectMembershipChangesBetween(
      reader,
      rows.map((row) => row.room_id),
      after,
      upTo,
    ),
  );
  for (const row of rows) {
    const roomId = row.room_id;
    const moved = moves.get(roomId);
    if (moved === undefined) continue;
    moved.add(userId);
    const before = await membershipsAt(deps, roomId, after, [...moved]);
    const joinedBefore = before.get(userId) === 'join';
    const joinedNow = row.membership === 'join';
    if (joinedNow && !joinedBefore) {
      // A room the user joined: everyone in it is new to them.
      const members = await db.read((reader) => selectMembersOfRoom(reader, roomId, ['join']));
      for (const member of members) if (member.user_id !== userId) changed.add(member.user_id);
    } else if (!joinedNow && joinedBefore) {
      // A room the user left: everyone in it then. Who did not move is there now as then.
      const members = await db.read((reader) => selectMembersOfRoom(reader, roomId, ['join']));
      for (const member of members) if (!moved.has(member.user_id)) mayHaveLeft.add(member.user_id);
      for (const [id, membership] of before) if (membership === 'join') mayHaveLeft.add(id);
    } else if (joinedNow && joinedBefore) {
      const now = await db.read((reader) => selectMembershipsInRoom(reader, roomId, [...moved]));
      for (const id of moved) {
        const wasIn = before.get(id) === 'join';
        const isIn = now.get(id) === 'join';
        if (isIn && !wasIn) changed.add(id);
        if (wasIn && !isIn) mayHaveLeft.add(id);
      }
    }
  }
}

/** The memberships of some users in a room's state at a stream position, by user ID. */
async function membershipsAt(
  deps: DeviceListsDeps,
  roomId: string,
  position: number,
  userIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const eventId = await deps.db.read((reader) =>
    selectLastEventAtOrBefore(reader, roomId, position),
  );
  if (eventId === undefined) return found;
  const state = (await deps.roomGraph.stateAfterEvent(eventId)) ?? new Map<string, string>();
  const memberIds = new Map<string, string>();
  for (const id of userIds) {
    const memberEventId = state.get(stateKeyOf('m.room.member', id));
    if (memberEventId !== undefined) memberIds.set(id, memberEventId);
  }
  const events = await deps.roomGraph.getEvents([...memberIds.values()]);
  for (const [id, memberEventId] of memberIds) {
    const membership = events.get(memberEventId)?.content.membership;
    if (typeof membership === 'string') found.set(id, membership);
  }
  return found;
}
