/**
 * Reading a room's timeline: `/messages`, `/context`, `/event` and `/timestamp_to_event`. The
 * timeline is the room's accepted events in stream order; pagination tokens are stream
 * positions (see stream-token.ts). Every event served passes the reader's history visibility.
 * When backwards pagination reaches the oldest event stored of a room that has older history on
 * other servers (a room joined over federation), the history is fetched first (`useBackfill`).
 */

import { notFound } from '../../core/errors.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import {
  selectEventsByTimestamp,
  selectLowestStreamOrdering,
  selectMaxStreamOrdering,
  selectTimeline,
} from '../../storage/rooms/timeline.js';
import type { TimelineRow } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { isRoomForgotten } from '../../storage/rooms/forgotten-rooms.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { ClientEvent, ClientEvents, EventReader } from './client-event.js';
import { matchesRoomEventFilter } from './event-filter.js';
import type { RoomEventFilter } from './event-filter.js';
import type { HistoryVisibility } from './history-visibility.js';
import type { RoomAccess } from './room-access.js';
import { formatStreamToken } from './stream-token.js';

/** `/messages` returns at most this many events, whatever the client asks. */
export const MAX_MESSAGES_LIMIT = 1000;
export const DEFAULT_MESSAGES_LIMIT = 10;
/** Rows read per step while filtering; a page stops after this many steps with a token. */
const SCAN_BATCH = 100;
const MIN_SCAN_BATCH = 20;
const MAX_SCAN_STEPS = 20;

export interface MessagesRequest {
  readonly dir: 'b' | 'f';
  /** Stream position to start from; default the end (`b`) or the start (`f`) of the room. */
  readonly from?: number;
  readonly to?: number;
  readonly limit: number;
  readonly filter: RoomEventFilter;
}

export interface MessagesResponse {
  start: string;
  end?: string;
  chunk: ClientEvent[];
  state?: ClientEvent[];
}

export interface ContextResponse {
  start: string;
  end: string;
  events_before: ClientEvent[];
  event: ClientEvent;
  events_after: ClientEvent[];
  state: ClientEvent[];
}

/**
 * Fetches a room's older history from other servers (federation backfill): stores up to about
 * `limit` events before the oldest stored ones, with positions below them, and returns how many
 * it stored (0: nothing more to have).
 */
export interface TimelineBackfill {
  backfill(roomId: string, limit: number): Promise<number>;
}

interface Page {
  events: RoomEvent[];
  /** Stream position of each event returned. */
  positions: Map<string, number>;
  memberships: Map<string, string>;
  /** Where the next page starts; undefined when the timeline is exhausted. */
  next: number | undefined;
}

export class RoomTimeline {
  #backfill: TimelineBackfill | undefined;

  constructor(
    private readonly db: TenantDatabase,
    private readonly graph: RoomGraph,
    private readonly access: RoomAccess,
    private readonly visibility: HistoryVisibility,
    private readonly clientEvents: ClientEvents,
  ) {}

  /** Backwards pagination past the oldest stored event asks `backfill` for more. */
  useBackfill(backfill: TimelineBackfill): void {
    this.#backfill = backfill;
  }

  /** `GET /rooms/{roomId}/messages`. */
  async messages(
    reader: EventReader,
    roomId: string,
    request: MessagesRequest,
  ): Promise<MessagesResponse> {
    await this.access.requireHistoryAccess(reader.userId, roomId);
    const from =
      request.from ??
      (request.dir === 'b' ? await this.db.read((db) => selectMaxStreamOrdering(db)) : 0);
    const limit = Math.min(Math.max(request.limit, 0), MAX_MESSAGES_LIMIT);
    const read = () =>
      this.#page(reader.userId, roomId, request.dir, from, request.to, limit, request.filter);
    let page = await read();
    if (
      request.dir === 'b' &&
      request.to === undefined &&
      page.next === undefined &&
      page.events.length < limit &&
      this.#backfill !== undefined &&
      (await this.#backfill.backfill(roomId, limit - page.events.length)) > 0
    ) {
      // Older events were fetched (below every stored one): read again, and end the page with
      // a token past them even if it is not full, so the client asks for (and fetches) more.
      page = await read();
      if (page.next === undefined) {
        const lowest = await this.db.read((db) => selectLowestStreamOrdering(db, roomId));
        if (lowest !== undefined && lowest <= from) page.next = lowest - 1;
      }
    }
    const response: MessagesResponse = {
      start: formatStreamToken(from),
      chunk: await this.clientEvents.format(page.events, reader, page.memberships),
    };
    if (page.next !== undefined) response.end = formatStreamToken(page.next);
    if (request.filter.lazy_load_members === true) {
      response.state = await this.clientEvents.format(
        await this.#senderMembers(page.events),
        reader,
      );
    }
    return response;
  }

  /** `GET /rooms/{roomId}/context/{eventId}`: 404 M_NOT_FOUND for an event the reader cannot see. */
  async context(
    reader: EventReader,
    roomId: string,
    eventId: string,
    limit: number,
    filter: RoomEventFilter,
  ): Promise<ContextResponse> {
    await this.access.requireHistoryAccess(reader.userId, roomId);
    const { event, streamOrdering, membership } = await this.#visibleEvent(
      reader.userId,
      roomId,
      eventId,
    );
    const capped = Math.min(Math.max(limit, 0), MAX_MESSAGES_LIMIT);
    const beforeLimit = Math.floor(capped / 2);
    const afterLimit = capped - beforeLimit;
    const before = await this.#page(
      reader.userId,
      roomId,
      'b',
      streamOrdering - 1,
      undefined,
      beforeLimit,
      filter,
    );
    const after = await this.#page(
      reader.userId,
      roomId,
      'f',
      streamOrdering,
      undefined,
      afterLimit,
      filter,
    );

    const lastBefore = before.events.at(-1);
    const lastAfter = after.events.at(-1);
    const start =
      lastBefore === undefined
        ? streamOrdering - 1
        : (before.positions.get(lastBefore.eventId) as number) - 1;
    const end =
      lastAfter === undefined ? streamOrdering : (after.positions.get(lastAfter.eventId) as number);

    // The state at the last event returned, filtered like the events.
    const stateAt = lastAfter ?? event;
    const state = (await this.graph.stateAfterEvent(stateAt.eventId)) ?? new Map<string, string>();
    let stateEvents = [...(await this.graph.getEvents([...state.values()])).values()].filter((e) =>
      matchesRoomEventFilter(filter, e),
    );
    if (filter.lazy_load_members === true) {
      const senders = new Set([...before.events, event, ...after.events].map((e) => e.sender));
      stateEvents = stateEvents.filter(
        (e) => e.type !== 'm.room.member' || (e.stateKey !== undefined && senders.has(e.stateKey)),
      );
    }
    return {
      start: formatStreamToken(start),
      end: formatStreamToken(end),
      events_before: await this.clientEvents.format(before.events, reader, before.memberships),
      event: await this.clientEvents.formatOne(event, reader, membership),
      events_after: await this.clientEvents.format(after.events, reader, after.memberships),
      state: await this.clientEvents.format(sortState(stateEvents), reader),
    };
  }

  /** `GET /rooms/{roomId}/event/{eventId}`: 404 M_NOT_FOUND unless the reader may see it. */
  async event(reader: EventReader, roomId: string, eventId: string): Promise<ClientEvent> {
    const version = await this.graph.roomVersionOf(roomId);
    if (version === undefined) throw notFound('Event not found');
    if (await this.db.read((db) => isRoomForgotten(db, reader.userId, roomId))) {
      throw notFound('Event not found');
    }
    const { event, membership } = await this.#visibleEvent(reader.userId, roomId, eventId);
    return this.clientEvents.formatOne(event, reader, membership);
  }

  /** `GET /rooms/{roomId}/timestamp_to_event`: the visible event closest to `ts` in `dir`. */
  async eventByTimestamp(
    userId: string,
    roomId: string,
    ts: number,
    dir: 'b' | 'f',
  ): Promise<{ event_id: string; origin_server_ts: number }> {
    await this.access.requireHistoryAccess(userId, roomId);
    for (let step = 0; step < MAX_SCAN_STEPS; step++) {
      const rows = await this.db.read((db) =>
        selectEventsByTimestamp(db, roomId, ts, dir, SCAN_BATCH, step * SCAN_BATCH),
      );
      const events = await this.#eventsOf(rows);
      const visible = await this.visibility.filter(userId, roomId, events);
      const [first] = visible.events;
      if (first !== undefined)
        return { event_id: first.eventId, origin_server_ts: first.originServerTs };
      if (rows.length < SCAN_BATCH) break;
    }
    const direction = dir === 'f' ? 'forward' : 'backward';
    throw notFound(`Unable to find event from ${ts} in ${direction} direction`);
  }

  /** A stored, accepted event of the room that the user may see, or 404. */
  async #visibleEvent(userId: string, roomId: string, eventId: string) {
    const event = await this.graph.getEvent(eventId);
    const status = (await this.graph.eventStatuses([eventId])).get(eventId);
    if (
      event === undefined ||
      status === undefined ||
      event.roomId !== roomId ||
      status.outlier ||
      status.softFailed ||
      status.rejectedReason !== undefined
    ) {
      throw notFound('Event not found');
    }
    const visible = await this.visibility.filter(userId, roomId, [event]);
    if (visible.events.length === 0) throw notFound('Event not found');
    return {
      event,
      streamOrdering: status.streamOrdering,
      membership: visible.memberships.get(eventId),
    };
  }

  /**
   * Up to `limit` events from `from` in `dir` that pass the filter and the reader's history
   * visibility. Reads the timeline in steps; stops with a token after `MAX_SCAN_STEPS` steps so
   * that a filter matching nothing in a long room does not read it all at once.
   */
  async #page(
    userId: string,
    roomId: string,
    dir: 'b' | 'f',
    from: number,
    to: number | undefined,
    limit: number,
    filter: RoomEventFilter,
  ): Promise<Page> {
    const page: Page = { events: [], positions: new Map(), memberships: new Map(), next: from };
    if (limit === 0) return page;
    let position = from;
    // Small pages read small steps: every event read is checked for visibility.
    const batch = Math.min(SCAN_BATCH, Math.max(2 * limit, MIN_SCAN_BATCH));
    for (let step = 0; step < MAX_SCAN_STEPS; step++) {
      const rows = await this.db.read((db) =>
        selectTimeline(db, roomId, { dir, from: position, to, limit: batch }),
      );
      const events = (await this.#eventsOf(rows)).filter((event) =>
        matchesRoomEventFilter(filter, event),
      );
      const visible = await this.visibility.filter(userId, roomId, events);
      const positionOf = new Map(rows.map((row) => [row.event_id, row.stream_ordering]));
      for (const event of visible.events) {
        const at = positionOf.get(event.eventId) as number;
        page.events.push(event);
        page.positions.set(event.eventId, at);
        const membership = visible.memberships.get(event.eventId);
        if (membership !== undefined) page.memberships.set(event.eventId, membership);
        if (page.events.length === limit) {
          page.next = dir === 'b' ? at - 1 : at;
          return page;
        }
      }
      const last = rows.at(-1);
      if (rows.length < batch || last === undefined) {
        page.next = undefined;
        return page;
      }
      position = dir === 'b' ? last.stream_ordering - 1 : last.stream_ordering;
    }
    page.next = position;
    return page;
  }

  async #eventsOf(rows: readonly TimelineRow[]): Promise<RoomEvent[]> {
    const found = await this.graph.getEvents(rows.map((row) => row.event_id));
    return rows.map((row) => found.get(row.event_id)).filter((event) => event !== undefined);
  }

  /** The member events of the senders of `events`, each as of the sender's first event there. */
  async #senderMembers(events: readonly RoomEvent[]): Promise<RoomEvent[]> {
    const memberIds = new Set<string>();
    const seen = new Set<string>();
    for (const event of events) {
      if (seen.has(event.sender)) continue;
      seen.add(event.sender);
      const state = await this.graph.stateAfterEvent(event.eventId);
      const id = state?.get(stateKeyOf('m.room.member', event.sender));
      if (id !== undefined) memberIds.add(id);
    }
    const found = await this.graph.getEvents([...memberIds]);
    return [...memberIds].map((id) => found.get(id)).filter((event) => event !== undefined);
  }
}

/** State events in a stable order: by type, then state key. */
export function sortState(events: RoomEvent[]): RoomEvent[] {
  return events.sort((a, b) =>
    a.type === b.type ? compare(a.stateKey ?? '', b.stateKey ?? '') : compare(a.type, b.type),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
