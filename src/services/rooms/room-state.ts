/**
 * Reading room state: `/state`, `/state/{type}/{stateKey}`, `/members`, `/joined_members`.
 * Joined readers (and anyone, for a world-readable room) read the current state; readers who
 * left or were banned read the state as of their departure.
 */

import type { JsonObject } from '../../core/canonical-json.js';
import { forbidden, notFound } from '../../core/errors.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import { selectMembership, selectMembersOfRoom } from '../../storage/rooms/memberships.js';
import { selectLastEventAtOrBefore } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { ClientEvent, ClientEvents, EventReader } from './client-event.js';
import type { RoomAccess } from './room-access.js';
import { sortState } from './room-timeline.js';

export interface MembersQuery {
  /** A stream position: the members as of then (capped at the reader's departure). */
  readonly at?: number;
  readonly membership?: string;
  readonly notMembership?: string;
}

export interface JoinedMember {
  display_name?: string;
  avatar_url?: string;
}

export class RoomState {
  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly access: RoomAccess,
    private readonly clientEvents: ClientEvents,
  ) {}

  /** `GET /rooms/{roomId}/state`. */
  async state(reader: EventReader, roomId: string): Promise<ClientEvent[]> {
    const { state } = await this.access.readableState(reader.userId, roomId);
    return this.clientEvents.format(sortState(await this.#events(state)), reader);
  }

  /**
   * `GET /rooms/{roomId}/state/{eventType}/{stateKey}`: the content (redacted if a redaction
   * applies), or the whole event; 404 M_NOT_FOUND if the state has no such event.
   */
  async stateEvent(
    reader: EventReader,
    roomId: string,
    type: string,
    stateKey: string,
    format: 'content' | 'event',
  ): Promise<JsonObject | ClientEvent> {
    const { state } = await this.access.readableState(reader.userId, roomId);
    const id = state.get(stateKeyOf(type, stateKey));
    const event = id === undefined ? undefined : await this.graph.getEvent(id);
    if (event === undefined) throw notFound(`The room has no ${type} state with key "${stateKey}"`);
    const formatted = await this.clientEvents.formatOne(event, reader);
    return format === 'event' ? formatted : formatted.content;
  }

  /** `GET /rooms/{roomId}/members`: `membership` or (either) not `not_membership`. */
  async members(reader: EventReader, roomId: string, query: MembersQuery): Promise<ClientEvent[]> {
    const readable = await this.access.readableState(reader.userId, roomId);
    let state: StateMap = readable.state;
    if (query.at !== undefined) {
      const cap = readable.departedAt?.streamOrdering;
      const at = cap === undefined ? query.at : Math.min(query.at, cap);
      const eventId = await this.db.read((db) => selectLastEventAtOrBefore(db, roomId, at));
      state =
        (eventId === undefined ? undefined : await this.graph.stateAfterEvent(eventId)) ??
        new Map();
    }
    const ids = [...state].filter(([key]) => key.startsWith(MEMBER_PREFIX)).map(([, id]) => id);
    const members = [...(await this.graph.getEvents(ids)).values()].filter((event) =>
      keepMember(event, query),
    );
    return this.clientEvents.format(sortState(members), reader);
  }

  /** `GET /rooms/{roomId}/joined_members`: for users joined to the room only. */
  async joinedMembers(userId: string, roomId: string): Promise<Record<string, JoinedMember>> {
    const own = await this.db.read((db) => selectMembership(db, roomId, userId));
    if (own?.membership !== 'join') throw forbidden("You aren't a member of the room");
    const rows = await this.db.read((db) => selectMembersOfRoom(db, roomId, ['join']));
    const joined: Record<string, JoinedMember> = {};
    for (const row of rows) {
      const member: JoinedMember = {};
      if (row.displayname !== null) member.display_name = row.displayname;
      if (row.avatar_url !== null) member.avatar_url = row.avatar_url;
      joined[row.user_id] = member;
    }
    return joined;
  }

  async #events(state: StateMap): Promise<RoomEvent[]> {
    return [...(await this.graph.getEvents([...state.values()])).values()];
  }
}

const MEMBER_PREFIX = JSON.stringify(['m.room.member']).slice(0, -1) + ',';

function keepMember(event: RoomEvent, query: MembersQuery): boolean {
  const membership = event.content.membership;
  const is = query.membership !== undefined && membership === query.membership;
  const isNot = query.notMembership !== undefined && membership !== query.notMembership;
  if (query.membership !== undefined && query.notMembership !== undefined) return is || isNot;
  if (query.membership !== undefined) return is;
  if (query.notMembership !== undefined) return isNot;
  return true;
}
