/**
 * `GET /sync` (client-server API "Syncing"): what changed for a user between two sync tokens,
 * per room (timeline, state, ephemeral events, room account data, unread counts) and globally
 * (account data, presence). See docs/sync.md.
 */

import { performance } from 'node:perf_hooks';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import {
  selectMembersOfRoom,
  selectRoomsOfUser,
  type MembershipRow,
} from '../../storage/rooms/memberships.js';
import { selectLastEventAtOrBefore, selectTimeline } from '../../storage/rooms/timeline.js';
import { selectRoomsWithEventsBetween } from '../../storage/sync/sync-queries.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { AccountData } from '../account-data/account-data.js';
import type { IgnoredUsers } from '../account-data/ignored-users.js';
import type { Presence, PresenceEvent, PresenceState } from '../ephemeral/presence.js';
import type { Receipts } from '../ephemeral/receipts.js';
import type { Typing } from '../ephemeral/typing.js';
import type { Filter } from '../filters/filter-schema.js';
import type { Notifier } from '../notifier/notifier.js';
import type { NotificationCounts } from '../push/notification-counts.js';
import { PUSH_RULES_ACCOUNT_DATA_TYPE, type PushRules } from '../push/push-rules.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { ClientEvent, ClientEvents, EventReader } from '../rooms/client-event.js';
import { matchesRoomEventFilter } from '../rooms/event-filter.js';
import type { HistoryVisibility } from '../rooms/history-visibility.js';
import { sortState } from '../rooms/room-timeline.js';
import { membershipStrippedState, type StrippedStateEvent } from '../rooms/stripped-state.js';
import { formatStreamToken } from '../rooms/stream-token.js';
import { syncKeyCounts } from '../e2ee/sync-key-counts.js';
import { deviceListsSection } from './device-lists-section.js';
import { roomIncluded, typeIncluded } from './sync-filter.js';
import { encodeSyncToken, type StreamPositions, type SyncToken } from './sync-token.js';
import { toDeviceSection } from './to-device-section.js';

export const DEFAULT_TIMELINE_LIMIT = 10;
/** A timeline never carries more events than this, whatever the filter asks. */
const MAX_TIMELINE_LIMIT = 1000;
/** Rows read per step while filtering a timeline window. */
const SCAN_BATCH = 100;
const MAX_SCAN_STEPS = 20;

export interface SyncRequest {
  readonly since?: SyncToken;
  readonly filter: Filter;
  readonly fullState: boolean;
  readonly timeoutMs: number;
  /** Omitted: online; `offline` leaves presence alone. */
  readonly setPresence?: PresenceState;
  /** Fires when the client goes away: the long-poll ends early. */
  readonly signal?: AbortSignal;
}

interface EventList<E = unknown> {
  events: E[];
}

export interface JoinedRoom {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: EventList<ClientEvent>;
  ephemeral: EventList;
  account_data: EventList;
  unread_notifications: { notification_count: number; highlight_count: number };
  summary: RoomSummary;
}

/** The room summary (spec: "Lazy-loading room members"); filled when members are lazy-loaded. */
export interface RoomSummary {
  'm.heroes'?: string[];
  'm.joined_member_count'?: number;
  'm.invited_member_count'?: number;
}

/** How many heroes a summary names (spec: up to 5). */
const MAX_HEROES = 5;

export interface InvitedRoom {
  invite_state: EventList<StrippedStateEvent>;
}

export interface KnockedRoom {
  knock_state: EventList<StrippedStateEvent>;
}

export interface LeftRoom {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: EventList<ClientEvent>;
  account_data: EventList;
}

export interface SyncResponse {
  next_batch: string;
  rooms: {
    join: Record<string, JoinedRoom>;
    invite: Record<string, InvitedRoom>;
    leave: Record<string, LeftRoom>;
    knock: Record<string, KnockedRoom>;
  };
  account_data: EventList;
  presence: EventList<PresenceEvent>;
  to_device: EventList;
  device_lists: { changed: string[]; left: string[] };
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

export interface SyncDeps {
  readonly db: TenantDatabase;
  readonly roomGraph: RoomGraph;
  readonly clientEvents: ClientEvents;
  readonly historyVisibility: HistoryVisibility;
  readonly typing: Typing;
  readonly receipts: Receipts;
  readonly presence: Presence;
  readonly accountData: AccountData;
  readonly streamPositions: StreamPositions;
  readonly notifier: Notifier;
  readonly pushRules: PushRules;
  readonly notificationCounts: NotificationCounts;
  readonly ignoredUsers: Pick<IgnoredUsers, 'of'>;
}

/** A window of a room's timeline, (`from`, `to`] in stream positions; `from` undefined: the start. */
interface Window {
  readonly from: number | undefined;
  readonly to: number;
}

interface Timeline {
  events: RoomEvent[];
  memberships: Map<string, string>;
  limited: boolean;
  /** Stream position just before the first event returned. */
  prevBatch: number;
}

export class Sync {
  constructor(private readonly deps: SyncDeps) {}

  /**
   * One `/sync`: computes what changed since `request.since` (everything when undefined); when
   * nothing did and `timeoutMs` > 0, waits on the notifier and computes again when something
   * the user can see changes, until the timeout, the client leaving or the tenant stopping.
   */
  async sync(reader: EventReader, request: SyncRequest): Promise<SyncResponse> {
    // The user syncs (spec: `set_presence`): memory only, unless their presence changes.
    const { presence } = this.deps;
    const ended = await presence.syncing(reader.userId, reader.deviceId, request.setPresence);
    try {
      return await this.#syncUntilChange(reader, request);
    } finally {
      ended();
    }
  }

  async #syncUntilChange(reader: EventReader, request: SyncRequest): Promise<SyncResponse> {
    const { userId } = reader;
    const deadline = performance.now() + request.timeoutMs;
    for (;;) {
      const to = await this.deps.streamPositions.currentToken();
      const response = await this.#compute(reader, request, to);
      if (request.since === undefined || request.fullState || !isEmpty(response)) return response;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return response;
      const roomIds = await this.#joinedRoomIds(userId);
      const outcome = await this.deps.notifier.waitForChange(
        userId,
        roomIds,
        to,
        remaining,
        request.signal,
      );
      if (outcome !== 'changed') return response;
    }
  }

  async #joinedRoomIds(userId: string): Promise<string[]> {
    const rows = await this.deps.db.read((db) => selectRoomsOfUser(db, userId, ['join']));
    return rows.map((row) => row.room_id);
  }

  async #compute(reader: EventReader, request: SyncRequest, to: SyncToken): Promise<SyncResponse> {
    const { since, filter } = request;
    const userId = reader.userId;
    const response: SyncResponse = {
      next_batch: encodeSyncToken(to),
      rooms: { join: {}, invite: {}, leave: {}, knock: {} },
      account_data: { events: [] },
      presence: { events: [] },
      to_device: { events: [] },
      device_lists: { changed: [], left: [] },
      device_one_time_keys_count: {},
      device_unused_fallback_key_types: [],
    };
    // Every room the user has a membership in; device lists need them all, whatever the filter.
    const roomsOfUser = await this.deps.db.read((db) =>
      selectRoomsOfUser(db, userId, ['join', 'invite', 'leave', 'ban', 'knock']),
    );
    const rows = roomsOfUser.filter(
      (row) => roomIncluded(filter, row.room_id) && row.stream_ordering <= to.events,
    );

    // Account data first: room account data goes into the rooms' sections.
    const accountData = (await this.deps.accountData.since(userId, since?.account_data ?? 0))
      .filter((record) => record.streamId <= to.account_data)
      .map((record) => ({
        roomId: record.roomId,
        event: { type: record.type, content: record.content },
      }));
    response.account_data.events = accountData
      .filter((entry) => entry.roomId === '' && typeIncluded(filter.account_data, entry.event.type))
      .map((entry) => entry.event);
    // A sync from scratch always carries the current push rules (Synapse does; clients such as
    // matrix-js-sdk read them there), whether or not they were ever changed.
    if (
      (since === undefined || request.fullState) &&
      typeIncluded(filter.account_data, PUSH_RULES_ACCOUNT_DATA_TYPE)
    ) {
      response.account_data.events = [
        ...response.account_data.events.filter(
          (event) => (event as { type: string }).type !== PUSH_RULES_ACCOUNT_DATA_TYPE,
        ),
        {
          type: PUSH_RULES_ACCOUNT_DATA_TYPE,
          content: { global: await this.deps.pushRules.ruleset(userId) },
        },
      ];
    }
    const roomAccountData = new Map<string, { type: string; content: unknown }[]>();
    for (const entry of accountData) {
      if (entry.roomId === '' || !typeIncluded(filter.room?.account_data, entry.event.type)) {
        continue;
      }
      const list = roomAccountData.get(entry.roomId) ?? [];
      list.push(entry.event);
      roomAccountData.set(entry.roomId, list);
    }

    const joined = rows.filter((row) => row.membership === 'join');
    const joinedIds = joined.map((row) => row.room_id);
    const typing = this.deps.typing.changesSince(joinedIds, since?.typing ?? 0);
    const receipts = await this.deps.receipts.changesBetween(
      userId,
      joinedIds,
      since?.receipts ?? 0,
      to.receipts,
    );

    // An incremental sync reads the timelines of the rooms with new events only.
    const withEvents =
      since === undefined
        ? undefined
        : await this.deps.db.read((db) =>
            selectRoomsWithEventsBetween(db, joinedIds, since.events, to.events),
          );
    for (const row of joined) {
      const roomId = row.room_id;
      const fresh =
        since === undefined ||
        request.fullState ||
        (row.stream_ordering > since.events && !(await this.#wasJoinedBefore(row)));
      const timeline =
        fresh || withEvents === undefined || withEvents.has(roomId)
          ? await this.#timeline(
              userId,
              roomId,
              { from: fresh ? undefined : since?.events, to: to.events },
              filter,
            )
          : { events: [], memberships: new Map(), limited: false, prevBatch: to.events };
      const ephemeral: unknown[] = [];
      const typingEvent = typing.get(roomId);
      if (typingEvent !== undefined && typeIncluded(filter.room?.ephemeral, 'm.typing')) {
        ephemeral.push(typingEvent);
      }
      const receiptEvent = receipts.get(roomId);
      if (receiptEvent !== undefined && typeIncluded(filter.room?.ephemeral, 'm.receipt')) {
        ephemeral.push(receiptEvent);
      }
      const roomData = roomAccountData.get(roomId) ?? [];
      if (
        !fresh &&
        timeline.events.length === 0 &&
        ephemeral.length === 0 &&
        roomData.length === 0
      ) {
        continue;
      }
      const state = await this.#state(userId, roomId, timeline, fresh, since, to.events, filter);
      response.rooms.join[roomId] = {
        timeline: {
          events: await this.deps.clientEvents.format(
            timeline.events,
            reader,
            timeline.memberships,
          ),
          limited: timeline.limited,
          prev_batch: formatStreamToken(timeline.prevBatch),
        },
        state: { events: await this.deps.clientEvents.format(state, reader) },
        ephemeral: { events: ephemeral },
        account_data: { events: roomData },
        unread_notifications: await this.#unreadCount(userId, roomId, to),
        summary:
          filter.room?.state?.lazy_load_members === true ? await this.#summary(userId, roomId) : {},
      };
    }

    // Invites from users the user ignores are never shown (spec: "Ignoring Users").
    const ignored = await this.deps.ignoredUsers.of(userId);
    for (const row of rows) {
      if (row.membership !== 'invite' || ignored.has(row.sender)) continue;
      if (since !== undefined && row.stream_ordering <= since.events) continue;
      response.rooms.invite[row.room_id] = {
        invite_state: { events: await this.#strippedState(row) },
      };
    }

    // Knocks after `since` (all in an initial sync); once answered they move to invite,
    // join or leave like any other membership.
    for (const row of rows) {
      if (row.membership !== 'knock') continue;
      if (since !== undefined && row.stream_ordering <= since.events) continue;
      response.rooms.knock[row.room_id] = {
        knock_state: { events: await this.#strippedState(row) },
      };
    }

    const includeLeave = filter.room?.include_leave === true;
    for (const row of rows) {
      if (row.membership !== 'leave' && row.membership !== 'ban') continue;
      // An initial sync lists left rooms only when asked; an incremental one those left since.
      if (since === undefined ? !includeLeave : row.stream_ordering <= since.events) continue;
      const fresh = since === undefined || request.fullState;
      const window = { from: fresh ? undefined : since?.events, to: row.stream_ordering };
      const timeline = await this.#timeline(userId, row.room_id, window, filter);
      const state = await this.#state(
        userId,
        row.room_id,
        timeline,
        fresh,
        since,
        row.stream_ordering,
        filter,
      );
      response.rooms.leave[row.room_id] = {
        timeline: {
          events: await this.deps.clientEvents.format(
            timeline.events,
            reader,
            timeline.memberships,
          ),
          limited: timeline.limited,
          prev_batch: formatStreamToken(timeline.prevBatch),
        },
        state: { events: await this.deps.clientEvents.format(state, reader) },
        account_data: { events: roomAccountData.get(row.room_id) ?? [] },
      };
    }

    response.presence.events = (
      await this.deps.presence.changesBetween(userId, since?.presence ?? 0, to.presence)
    ).filter((event) => typeIncluded(filter.presence, event.type, event.sender));

    // To-device messages and device lists (docs/to-device.md): a long to-device queue stops
    // next_batch at the last message delivered.
    const toDevice = await toDeviceSection(this.deps.db, reader, since?.to_device, to.to_device);
    response.to_device.events = toDevice.events;
    response.device_lists = await deviceListsSection(this.deps, userId, since, to, roomsOfUser);
    // One-time and fallback key counts of the syncing device (docs/e2ee.md).
    Object.assign(response, await syncKeyCounts(this.deps.db, reader));
    response.next_batch = encodeSyncToken({ ...to, to_device: toDevice.position });
    return response;
  }

  /** Member counts and heroes: the joined or invited members other than the user, by user ID. */
  async #summary(userId: string, roomId: string): Promise<RoomSummary> {
    const members = await this.deps.db.read((db) =>
      selectMembersOfRoom(db, roomId, ['join', 'invite']),
    );
    const joined = members.filter((member) => member.membership === 'join').length;
    return {
      'm.heroes': members
        .map((member) => member.user_id)
        .filter((id) => id !== userId)
        .slice(0, MAX_HEROES),
      'm.joined_member_count': joined,
      'm.invited_member_count': members.length - joined,
    };
  }

  /** Whether the member event of a join replaced a join (a profile change, not a new join). */
  async #wasJoinedBefore(row: MembershipRow): Promise<boolean> {
    const before = await this.deps.roomGraph.stateBeforeEvent(row.event_id);
    const previousId = before?.get(stateKeyOf('m.room.member', row.user_id));
    if (previousId === undefined) return false;
    const previous = await this.deps.roomGraph.getEvent(previousId);
    return previous?.content.membership === 'join';
  }

  /**
   * The last `limit` events of the window that pass the timeline filter and the user's history
   * visibility, oldest first. Limited when the window holds more events before them.
   */
  async #timeline(
    userId: string,
    roomId: string,
    window: Window,
    filter: Filter,
  ): Promise<Timeline> {
    const timelineFilter = filter.room?.timeline ?? {};
    const limit = Math.min(timelineFilter.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
    const result: Timeline = {
      events: [],
      memberships: new Map(),
      limited: false,
      prevBatch: window.to,
    };
    let position = window.to;
    for (let step = 0; step < MAX_SCAN_STEPS; step++) {
      const rows = await this.deps.db.read((db) =>
        selectTimeline(db, roomId, {
          dir: 'b',
          from: position,
          to: window.from,
          limit: SCAN_BATCH,
        }),
      );
      const found = await this.deps.roomGraph.getEvents(rows.map((row) => row.event_id));
      const events = rows
        .map((row) => found.get(row.event_id))
        .filter((event) => event !== undefined)
        .filter((event) => matchesRoomEventFilter(timelineFilter, event));
      const visible = await this.deps.historyVisibility.filter(userId, roomId, events);
      const positionOf = new Map(rows.map((row) => [row.event_id, row.stream_ordering]));
      // Users always see their own member events (Synapse does the same): a rejected invite
      // or a kick must reach a user who never could see the room's history.
      const visibleIds = new Set(visible.events.map((event) => event.eventId));
      const kept = events.filter(
        (event) =>
          visibleIds.has(event.eventId) ||
          (event.type === 'm.room.member' && event.stateKey === userId),
      );
      for (const event of kept) {
        if (result.events.length === limit) {
          result.limited = true;
          break;
        }
        result.events.push(event);
        const membership = visible.memberships.get(event.eventId);
        if (membership !== undefined) result.memberships.set(event.eventId, membership);
        result.prevBatch = (positionOf.get(event.eventId) as number) - 1;
      }
      const last = rows.at(-1);
      if (result.limited || rows.length < SCAN_BATCH || last === undefined) break;
      position = last.stream_ordering - 1;
      if (step === MAX_SCAN_STEPS - 1) result.limited = true;
    }
    result.events.reverse();
    return result;
  }

  /**
   * The state to send with a timeline: the full state at its start for a fresh room; else the
   * state that changed between `since` and its start (nothing unless limited: the timeline
   * itself carries every state event of the window).
   */
  async #state(
    userId: string,
    roomId: string,
    timeline: Timeline,
    fresh: boolean,
    since: SyncToken | undefined,
    end: number,
    filter: Filter,
  ): Promise<RoomEvent[]> {
    const stateFilter = filter.room?.state ?? {};
    const lazy = stateFilter.lazy_load_members === true;
    if (!fresh && !timeline.limited && !lazy) return [];
    const startState = await this.#stateAtTimelineStart(roomId, timeline, end);
    let ids: string[];
    if (fresh) {
      ids = [...startState.values()];
    } else {
      const sinceState = await this.#stateAt(roomId, since?.events ?? 0);
      const changed = timeline.limited
        ? [...startState].filter(([key, id]) => sinceState.get(key) !== id)
        : [];
      ids = changed.map(([, id]) => id);
      if (lazy) {
        // Lazy-loading clients need the members of the timeline's senders.
        for (const event of timeline.events) {
          const id = startState.get(stateKeyOf('m.room.member', event.sender));
          if (id !== undefined) ids.push(id);
        }
      }
    }
    const found = await this.deps.roomGraph.getEvents([...new Set(ids)]);
    const members = new Set([userId, ...timeline.events.map((event) => event.sender)]);
    const events = [...found.values()].filter(
      (event) =>
        matchesRoomEventFilter(stateFilter, event) &&
        (!lazy ||
          event.type !== 'm.room.member' ||
          (event.stateKey !== undefined && members.has(event.stateKey))),
    );
    return sortState(events);
  }

  /** The state before the timeline's first event; with no event, the state at `end`. */
  async #stateAtTimelineStart(roomId: string, timeline: Timeline, end: number): Promise<StateMap> {
    const first = timeline.events[0];
    if (first !== undefined) {
      return (await this.deps.roomGraph.stateBeforeEvent(first.eventId)) ?? new Map();
    }
    return this.#stateAt(roomId, end);
  }

  /** The room state after its last event at or before stream position `position`. */
  async #stateAt(roomId: string, position: number): Promise<StateMap> {
    const eventId = await this.deps.db.read((db) =>
      selectLastEventAtOrBefore(db, roomId, position),
    );
    if (eventId === undefined) return new Map();
    return (await this.deps.roomGraph.stateAfterEvent(eventId)) ?? new Map();
  }

  /**
   * The room's unread notifications up to `to`: events from others after the user's read
   * receipt that their push rules notify (and highlight) for. See NotificationCounts.
   */
  async #unreadCount(
    userId: string,
    roomId: string,
    to: SyncToken,
  ): Promise<JoinedRoom['unread_notifications']> {
    const counts = await this.deps.notificationCounts.countsFor(userId, roomId, to);
    return { notification_count: counts.notifications, highlight_count: counts.highlights };
  }

  /** The stripped state of an invite or knock (`invite_state`, `knock_state`). */
  async #strippedState(row: MembershipRow): Promise<StrippedStateEvent[]> {
    return membershipStrippedState(this.deps.roomGraph, {
      eventId: row.event_id,
      sender: row.sender,
      userId: row.user_id,
    });
  }
}

/** Whether a response carries nothing for the client (a long-poll keeps waiting). */
function isEmpty(response: SyncResponse): boolean {
  const { rooms } = response;
  return (
    Object.keys(rooms.join).length === 0 &&
    Object.keys(rooms.invite).length === 0 &&
    Object.keys(rooms.leave).length === 0 &&
    Object.keys(rooms.knock).length === 0 &&
    response.account_data.events.length === 0 &&
    response.presence.events.length === 0 &&
    response.to_device.events.length === 0 &&
    response.device_lists.changed.length === 0 &&
    response.device_lists.left.length === 0
  );
}
