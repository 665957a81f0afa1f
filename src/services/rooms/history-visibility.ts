/**
 * Which events a user may see (client-server API "Room History Visibility", server behaviour):
 * decided per event from the room state at that event — its `m.room.history_visibility` and the
 * user's membership — and, for `shared`, from whether the user joined at any point after it.
 * Events of users the reader ignores are left out too, except state events ("Ignoring Users").
 */

import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import { selectMembership } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { IgnoredUsers } from '../account-data/ignored-users.js';
import type { RoomGraph } from '../room-graph/room-graph.js';

export type HistoryVisibilityValue = 'world_readable' | 'shared' | 'invited' | 'joined';

const HISTORY_VISIBILITY_KEY = stateKeyOf('m.room.history_visibility', '');

/** The visible events, and the reader's membership at each (for `unsigned.membership`). */
export interface VisibleEvents {
  readonly events: RoomEvent[];
  readonly memberships: Map<string, string>;
}

/** The `history_visibility` of a content; `shared` when missing or not understood (spec). */
export function historyVisibilityOf(content: unknown): HistoryVisibilityValue {
  const value =
    typeof content === 'object' && content !== null
      ? (content as Record<string, unknown>).history_visibility
      : undefined;
  return value === 'world_readable' || value === 'invited' || value === 'joined' ? value : 'shared';
}

export class HistoryVisibility {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly ignoredUsers?: Pick<IgnoredUsers, 'of'>,
  ) {}

  /** The room's current `history_visibility`. */
  async current(roomId: string): Promise<HistoryVisibilityValue> {
    const state = await this.graph.currentState(roomId);
    const id = state.get(HISTORY_VISIBILITY_KEY);
    return historyVisibilityOf(
      id === undefined ? undefined : (await this.graph.getEvent(id))?.content,
    );
  }

  /**
   * The events of one room that `userId` may see, in the order given, with the user's
   * membership at each one (after the event; `leave` if they had none).
   */
  async filter(
    userId: string,
    roomId: string,
    events: readonly RoomEvent[],
  ): Promise<VisibleEvents> {
    const memberships = new Map<string, string>();
    if (events.length === 0) return { events: [], memberships };
    const ids = events.map((event) => event.eventId);
    const [placements, row, ignored] = await Promise.all([
      this.graph.placementsOf(ids),
      this.db.read((db) => selectMembership(db, roomId, userId)),
      this.ignoredUsers?.of(userId),
    ]);
    const lastJoin = row?.last_join_stream_ordering ?? undefined;
    const memberKey = stateKeyOf('m.room.member', userId);

    const visible: RoomEvent[] = [];
    for (const event of events) {
      const placement = placements.get(event.eventId);
      if (placement === undefined) continue; // an outlier: not part of any timeline
      if (event.stateKey === undefined && ignored?.has(event.sender) === true) continue;
      const after = placement.stateAfter;
      const isOwnMember = event.type === 'm.room.member' && event.stateKey === userId;
      const isVisibilityEvent = event.type === 'm.room.history_visibility' && event.stateKey === '';
      const replacedId = placement.replacesState ?? undefined;

      const membershipAfter = await this.#membership(after, memberKey);
      const membershipBefore = isOwnMember
        ? await this.#membershipOfEvent(replacedId)
        : membershipAfter;
      const visibilityAfter = await this.#visibility(after);
      const visibilityBefore = isVisibilityEvent
        ? historyVisibilityOf(
            replacedId === undefined ? undefined : (await this.graph.getEvent(replacedId))?.content,
          )
        : visibilityAfter;

      const joinedLater = lastJoin !== undefined && lastJoin >= placement.streamOrdering;
      const allowed = (visibility: HistoryVisibilityValue, membership: string | undefined) =>
        isAllowed(visibility, membership, joinedLater);
      // The user's own member events and visibility changes count if either side allows them.
      const seen =
        allowed(visibilityBefore, membershipBefore) ||
        (isVisibilityEvent && allowed(visibilityAfter, membershipBefore)) ||
        (isOwnMember && allowed(visibilityBefore, membershipAfter));
      if (!seen) continue;
      visible.push(event);
      memberships.set(event.eventId, membershipAfter ?? 'leave');
    }
    return { events: visible, memberships };
  }

  async #membership(state: StateMap, memberKey: string): Promise<string | undefined> {
    return this.#membershipOfEvent(state.get(memberKey));
  }

  async #membershipOfEvent(eventId: string | undefined): Promise<string | undefined> {
    if (eventId === undefined) return undefined;
    const membership = (await this.graph.getEvent(eventId))?.content.membership;
    return typeof membership === 'string' ? membership : undefined;
  }

  async #visibility(state: StateMap): Promise<HistoryVisibilityValue> {
    const id = state.get(HISTORY_VISIBILITY_KEY);
    return historyVisibilityOf(
      id === undefined ? undefined : (await this.graph.getEvent(id))?.content,
    );
  }
}

/** The spec's rules 1–5, for one event. */
function isAllowed(
  visibility: HistoryVisibilityValue,
  membership: string | undefined,
  joinedLater: boolean,
): boolean {
  if (visibility === 'world_readable') return true;
  if (membership === 'join') return true;
  if (visibility === 'shared' && joinedLater) return true;
  if (visibility === 'invited' && membership === 'invite') return true;
  return false;
}
