/**
 * Who may read what of a room: the checks in front of `/messages`, `/context`, `/state`,
 * `/members` and the like. Joined users read the room as it is; users who left or were banned
 * read it as it was when they left (until they forget it); anyone reads a `world_readable` room.
 */

import { forbidden } from '../../core/errors.js';
import type { StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { isRoomForgotten } from '../../storage/rooms/forgotten-rooms.js';
import { selectMembership } from '../../storage/rooms/memberships.js';
import type { MembershipRow } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { HistoryVisibility } from './history-visibility.js';

export const NOT_IN_ROOM =
  "You aren't a member of the room and weren't previously a member of the room";

/** The state a reader may see, and why. */
export interface ReadableState {
  readonly version: RoomVersion;
  readonly state: StateMap;
  /** The reader's current membership row, if any. */
  readonly membership: MembershipRow | undefined;
  /** Set when the state is the room's as of the reader's departure (their leave or ban event). */
  readonly departedAt?: { readonly eventId: string; readonly streamOrdering: number };
}

export class RoomAccess {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly visibility: HistoryVisibility,
  ) {}

  async membership(roomId: string, userId: string): Promise<MembershipRow | undefined> {
    return this.db.read((db) => selectMembership(db, roomId, userId));
  }

  /**
   * Whether the user may read the room's history at all (each event is then checked by history
   * visibility): joined, departed and not forgotten, or a `world_readable` room. 403
   * M_FORBIDDEN otherwise, unknown rooms included (nothing tells them apart from private ones).
   */
  async requireHistoryAccess(
    userId: string,
    roomId: string,
  ): Promise<{ version: RoomVersion; membership: MembershipRow | undefined }> {
    const version = await this.graph.roomVersionOf(roomId);
    if (version === undefined) throw forbidden(NOT_IN_ROOM);
    const membership = await this.membership(roomId, userId);
    if (membership?.membership === 'join') return { version, membership };
    if (membership !== undefined && isDeparted(membership.membership)) {
      if (!(await this.#forgotten(userId, roomId))) return { version, membership };
    }
    if ((await this.visibility.current(roomId)) === 'world_readable')
      return { version, membership };
    throw forbidden(NOT_IN_ROOM);
  }

  /** The state the user may read (see the module comment); 403 M_FORBIDDEN otherwise. */
  async readableState(userId: string, roomId: string): Promise<ReadableState> {
    const version = await this.graph.roomVersionOf(roomId);
    if (version === undefined) throw forbidden(NOT_IN_ROOM);
    const membership = await this.membership(roomId, userId);
    if (
      membership?.membership === 'join' ||
      (await this.visibility.current(roomId)) === 'world_readable'
    ) {
      return { version, state: await this.graph.currentState(roomId), membership };
    }
    if (membership !== undefined && isDeparted(membership.membership)) {
      if (!(await this.#forgotten(userId, roomId))) {
        const state = await this.graph.stateAfterEvent(membership.event_id);
        if (state !== undefined) {
          return {
            version,
            state,
            membership,
            departedAt: {
              eventId: membership.event_id,
              streamOrdering: membership.stream_ordering,
            },
          };
        }
      }
    }
    throw forbidden(NOT_IN_ROOM);
  }

  #forgotten(userId: string, roomId: string): Promise<boolean> {
    return this.db.read((db) => isRoomForgotten(db, userId, roomId));
  }
}

function isDeparted(membership: string): boolean {
  return membership === 'leave' || membership === 'ban';
}
