/**
 * What other servers read of this server's rooms: single events, the state at an event (as
 * IDs or full PDUs, with its auth chain), the events before some (`/backfill`) or between two
 * points (`/get_missing_events`), an event's auth chain, and the event nearest a timestamp.
 *
 * Every read checks the room first (unknown → 404, ACL-denied origin → 403); room-level reads
 * also need the origin to have a joined user in the room (or the room to be world readable),
 * and events are given only if the origin may see them (`ServerRoomAccess.serverMaySee`).
 * Rejected events are never given; events redacted here are given in their redacted form.
 */

import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { forbidden, notFound } from '../../core/errors.js';
import { redactEvent } from '../../protocol/redaction.js';
import type { RoomEvent } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { selectRedactionsOf } from '../../storage/rooms/redactions.js';
import { selectEventsByTimestamp } from '../../storage/rooms/timeline.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { ServerRoomAccess } from './server-room-access.js';

/** `/backfill` and `/get_missing_events` give at most this many events. */
export const MAX_EVENTS_PER_READ = 100;
/** `/timestamp_to_event` scans at most this many batches of candidates. */
const TIMESTAMP_SCAN_STEPS = 10;
const TIMESTAMP_SCAN_BATCH = 50;

export interface FederationReadsDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  graph: RoomGraph;
  access: ServerRoomAccess;
}

/** A transaction holding PDUs, as `/event` and `/backfill` answer. */
export interface PduTransaction {
  origin: string;
  origin_server_ts: number;
  pdus: JsonObject[];
}

export class FederationReads {
  readonly #deps: FederationReadsDeps;

  constructor(deps: FederationReadsDeps) {
    this.#deps = deps;
  }

  /** `GET /event/{eventId}`. */
  async event(origin: string, eventId: string): Promise<PduTransaction> {
    const { graph, access } = this.#deps;
    const event = await graph.getEvent(eventId);
    const status = (await graph.eventStatuses([eventId])).get(eventId);
    if (event === undefined || status === undefined || status.rejectedReason !== undefined) {
      throw notFound(`Event ${eventId} not found`);
    }
    const version = await access.requireAllowed(event.roomId, origin);
    if (!(await access.serverMaySee(origin, event))) {
      throw forbidden(`${origin} may not see ${eventId}`);
    }
    return this.#transaction(await this.#served(version, [event]));
  }

  /** `GET /state_ids/{roomId}?event_id=`: the state before the event and its auth chain. */
  async stateIds(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ pdu_ids: string[]; auth_chain_ids: string[] }> {
    await this.#deps.access.requireParticipant(roomId, origin);
    const stateIds = await this.#stateBefore(roomId, eventId);
    const authChain = await this.#deps.graph.authChain(stateIds);
    return { pdu_ids: stateIds, auth_chain_ids: [...authChain] };
  }

  /** `GET /state/{roomId}?event_id=`: as `stateIds`, with the full PDUs. */
  async state(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ pdus: JsonObject[]; auth_chain: JsonObject[] }> {
    const version = await this.#deps.access.requireParticipant(roomId, origin);
    const { pdu_ids, auth_chain_ids } = await this.stateIds(origin, roomId, eventId);
    return {
      pdus: await this.#served(version, await this.#events(pdu_ids)),
      auth_chain: await this.#served(version, await this.#events(auth_chain_ids)),
    };
  }

  /** `GET /event_auth/{roomId}/{eventId}`: the event's full auth chain. */
  async eventAuth(
    origin: string,
    roomId: string,
    eventId: string,
  ): Promise<{ auth_chain: JsonObject[] }> {
    const version = await this.#deps.access.requireParticipant(roomId, origin);
    const event = await this.#deps.graph.getEvent(eventId);
    if (event === undefined || event.roomId !== roomId) {
      throw notFound(`Event ${eventId} not found in ${roomId}`);
    }
    const chain = await this.#deps.graph.authChain(event.authEventIds);
    for (const id of event.authEventIds) chain.add(id);
    return { auth_chain: await this.#served(version, await this.#events([...chain])) };
  }

  /**
   * `POST /get_missing_events/{roomId}`: a breadth-first walk of the `prev_events` of
   * `latest`, not entering `earliest`, nor events below `minDepth`, up to `limit` events,
   * oldest first.
   */
  async missingEvents(
    origin: string,
    roomId: string,
    request: {
      earliest: readonly string[];
      latest: readonly string[];
      limit: number;
      minDepth: number;
    },
  ): Promise<{ events: JsonObject[] }> {
    const version = await this.#deps.access.requireParticipant(roomId, origin);
    const limit = Math.max(0, Math.min(request.limit, MAX_EVENTS_PER_READ));
    const latest = await this.#events(request.latest);
    const seen = new Set([...request.earliest, ...request.latest]);
    const found = await this.#walkBack(
      roomId,
      latest.flatMap((event) => event.prevEventIds),
      seen,
      limit,
      request.minDepth,
    );
    const visible = await this.#visible(origin, found);
    visible.sort((a, b) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : 1));
    return { events: await this.#served(version, visible) };
  }

  /** `GET /backfill/{roomId}?v=&limit=`: the events `v` and those before them, newest first. */
  async backfill(
    origin: string,
    roomId: string,
    from: readonly string[],
    limit: number,
  ): Promise<PduTransaction> {
    const version = await this.#deps.access.requireParticipant(roomId, origin);
    const cap = Math.max(0, Math.min(limit, MAX_EVENTS_PER_READ));
    const found = await this.#walkBack(roomId, from, new Set(), cap, 0);
    const visible = await this.#visible(origin, found);
    visible.sort((a, b) => b.depth - a.depth || (a.eventId < b.eventId ? -1 : 1));
    return this.#transaction(await this.#served(version, visible));
  }

  /** `GET /timestamp_to_event/{roomId}?ts=&dir=`: the visible event nearest `ts` in `dir`. */
  async eventByTimestamp(
    origin: string,
    roomId: string,
    ts: number,
    dir: 'b' | 'f',
  ): Promise<{ event_id: string; origin_server_ts: number }> {
    await this.#deps.access.requireParticipant(roomId, origin);
    for (let step = 0; step < TIMESTAMP_SCAN_STEPS; step++) {
      const rows = await this.#deps.db.read((db) =>
        selectEventsByTimestamp(
          db,
          roomId,
          ts,
          dir,
          TIMESTAMP_SCAN_BATCH,
          step * TIMESTAMP_SCAN_BATCH,
        ),
      );
      const events = await this.#events(rows.map((row) => row.event_id));
      const [first] = await this.#visible(origin, events);
      if (first !== undefined) {
        return { event_id: first.eventId, origin_server_ts: first.originServerTs };
      }
      if (rows.length < TIMESTAMP_SCAN_BATCH) break;
    }
    throw notFound(
      `Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`,
    );
  }

  /** The IDs of the state before a stored event of the room (404 if unknown or an outlier). */
  async #stateBefore(roomId: string, eventId: string): Promise<string[]> {
    const event = await this.#deps.graph.getEvent(eventId);
    const state =
      event?.roomId === roomId ? await this.#deps.graph.stateBeforeEvent(eventId) : undefined;
    if (state === undefined) throw notFound(`No state known at ${eventId} in ${roomId}`);
    return [...state.values()];
  }

  /**
   * Breadth-first over `prev_events` from `starts` (included), skipping `seen` and events of
   * other rooms, below `minDepth`, or not stored; at most `limit` events.
   */
  async #walkBack(
    roomId: string,
    starts: readonly string[],
    seen: Set<string>,
    limit: number,
    minDepth: number,
  ): Promise<RoomEvent[]> {
    const found: RoomEvent[] = [];
    let frontier = starts.filter((id) => !seen.has(id));
    for (const id of frontier) seen.add(id);
    while (frontier.length > 0 && found.length < limit) {
      const events = await this.#events(frontier);
      const next: string[] = [];
      for (const event of events) {
        if (found.length >= limit) break;
        if (event.roomId !== roomId || event.depth < minDepth) continue;
        found.push(event);
        for (const prev of event.prevEventIds) {
          if (!seen.has(prev)) {
            seen.add(prev);
            next.push(prev);
          }
        }
      }
      frontier = next;
    }
    return found;
  }

  /** The stored, not rejected events among `ids`, in the order given. */
  async #events(ids: readonly string[]): Promise<RoomEvent[]> {
    if (ids.length === 0) return [];
    const { graph } = this.#deps;
    const [events, statuses] = await Promise.all([graph.getEvents(ids), graph.eventStatuses(ids)]);
    return ids
      .filter((id) => statuses.get(id)?.rejectedReason === undefined)
      .map((id) => events.get(id))
      .filter((event) => event !== undefined);
  }

  async #visible(origin: string, events: readonly RoomEvent[]): Promise<RoomEvent[]> {
    const visible: RoomEvent[] = [];
    for (const event of events) {
      if (await this.#deps.access.serverMaySee(origin, event)) visible.push(event);
    }
    return visible;
  }

  /** The PDUs to give out: redacted where a redaction of them is stored here. */
  async #served(version: RoomVersion, events: readonly RoomEvent[]): Promise<JsonObject[]> {
    const redacted = await this.#deps.db.read((db) =>
      selectRedactionsOf(
        db,
        events.map((event) => event.eventId),
      ),
    );
    return events.map((event) =>
      redacted.has(event.eventId) ? redactEvent(event.pdu, version) : event.pdu,
    );
  }

  #transaction(pdus: JsonObject[]): PduTransaction {
    return {
      origin: this.#deps.serverName,
      origin_server_ts: this.#deps.clock.now(),
      pdus,
    };
  }
}
