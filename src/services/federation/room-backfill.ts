/**
 * History from before this server joined a room (or anything older than what it has), fetched
 * from the other servers of the room when a local client paginates past the oldest stored event
 * (`RoomTimeline.useBackfill`): `GET /_matrix/federation/v1/backfill/{roomId}?v=…&limit=…` from
 * the room's backfill points (the prev events, not stored, of its oldest events). Every event is
 * verified like a PDU (format, signatures, content hash), must lead to a backfill point through
 * the events returned (others are dropped), and is checked against its auth events (missing ones
 * fetched and stored as outliers) and against the state before it (from its prev events, else
 * `/state_ids` at each missing one, as for a gap). Stored oldest first at stream positions below
 * every other event (`RoomGraph.reserveBackfillPositions`) and never as forward extremities, so
 * the timeline reads them in order before the join and syncs never see them as new. Rejected
 * events are stored as rejected (never served); soft failure does not apply to the past.
 *
 * Backfilled events are history only: they do not change memberships, the current state or
 * redactions applied here, and wake no sync.
 */

import type { Logger } from 'pino';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { resolveState } from '../../protocol/state-resolution/resolve-state.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { MissingEventsError } from '../room-graph/room-graph.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { KeyedLock } from '../rooms/keyed-lock.js';
import type { TimelineBackfill } from '../rooms/room-timeline.js';
import { serverOfUser, serversInRoom } from './event-fanout.js';
import type { FederationClient } from './federation-contracts.js';
import { FederationRequestError } from './federation-contracts.js';
import type { RemoteEvents } from './remote-events.js';

/** One `/backfill` asks for at least this many events, and at most `MAX_BACKFILL_LIMIT`. */
const MIN_BACKFILL_LIMIT = 20;
const MAX_BACKFILL_LIMIT = 100;
/** Backfill points sent as `v`. */
const MAX_BACKFILL_POINTS = 20;
/** Servers tried, in turn, before giving up for this request. */
const MAX_SERVERS_TRIED = 5;
/** How long one `/backfill` may take (a client's `/messages` waits). */
const REQUEST_TIMEOUT_MS = 20_000;
/** A room whose backfill got nothing is not tried again for this long. */
const FRUITLESS_RETRY_MS = 60_000;
/** Rooms remembered as fruitless (the oldest entries go first). */
const FRUITLESS_ROOMS_KEPT = 1000;

export interface RoomBackfillDeps {
  serverName: string;
  db: TenantDatabase;
  graph: RoomGraph;
  client: FederationClient;
  remote: RemoteEvents;
  logger: Logger;
  now: () => number;
}

export class RoomBackfill implements TimelineBackfill {
  readonly #deps: RoomBackfillDeps;
  readonly #log: Logger;
  /** One backfill of a room at a time: two clients paginating get the same events once. */
  readonly #roomLock = new KeyedLock();
  /** Rooms whose last backfill stored nothing, and when they may be tried again. */
  readonly #fruitless = new Map<string, number>();

  constructor(deps: RoomBackfillDeps) {
    this.#deps = deps;
    this.#log = deps.logger;
  }

  /** Fetches and stores older events of the room; returns how many joined its timeline. */
  backfill(roomId: string, limit: number): Promise<number> {
    return this.#roomLock.run(roomId, async () => {
      const retryAt = this.#fruitless.get(roomId);
      if (retryAt !== undefined && retryAt > this.#deps.now()) return 0;
      this.#fruitless.delete(roomId);
      const stored = await this.#backfill(roomId, limit);
      if (stored === 0) {
        if (this.#fruitless.size >= FRUITLESS_ROOMS_KEPT) {
          this.#fruitless.delete(this.#fruitless.keys().next().value as string);
        }
        this.#fruitless.set(roomId, this.#deps.now() + FRUITLESS_RETRY_MS);
      }
      return stored;
    });
  }

  async #backfill(roomId: string, limit: number): Promise<number> {
    const { graph } = this.#deps;
    const version = await graph.roomVersionOf(roomId);
    if (version === undefined) return 0;
    const points = await graph.backfillPoints(roomId, MAX_BACKFILL_POINTS);
    if (points.length === 0) return 0;
    const wanted = Math.min(Math.max(limit, MIN_BACKFILL_LIMIT), MAX_BACKFILL_LIMIT);
    for (const server of await this.#servers(roomId, points)) {
      let pdus: unknown[];
      try {
        const answer = await this.#deps.client.request(server, {
          method: 'GET',
          path: `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}`,
          query: { v: points, limit: String(wanted) },
          // A client waits on this.
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        pdus = Array.isArray(answer.pdus) ? answer.pdus : [];
      } catch (error) {
        if (!(error instanceof FederationRequestError)) throw error;
        this.#log.info({ room_id: roomId, destination: server, err: error }, 'backfill failed');
        continue;
      }
      const verified = await this.#deps.remote.verifyAll(roomId, version, pdus);
      const events = leadingTo(points, verified);
      if (events.length === 0) continue;
      try {
        return await this.#store(server, version, events);
      } catch (error) {
        // What the other server sent could not all be made sense of (state or auth events it
        // would not give): what was stored stays; the client's page is not failed for it.
        const expected =
          error instanceof FederationRequestError || error instanceof MissingEventsError;
        this.#log[expected ? 'info' : 'warn'](
          { room_id: roomId, destination: server, err: error },
          'backfill stopped',
        );
        continue;
      }
    }
    return 0;
  }

  /**
   * The servers to ask, best first: the senders' servers of the backfill points known here (as
   * outliers), then the servers with users joined to the room, then the room ID's server (rooms
   * before v12); never this server.
   */
  async #servers(roomId: string, points: readonly string[]): Promise<string[]> {
    const own = this.#deps.serverName;
    const joined = await serversInRoom(this.#deps.db, roomId);
    joined.delete(own);
    const known = await this.#deps.graph.getEvents(points);
    const preferred = [...known.values()].map((event) => serverOfUser(event.sender));
    const roomServer = roomId.includes(':') ? roomId.slice(roomId.indexOf(':') + 1) : undefined;
    const ordered = [...preferred, ...[...joined].sort(), roomServer].filter(
      (server): server is string =>
        server !== undefined && server !== own && (joined.has(server) || server === roomServer),
    );
    return [...new Set(ordered)].slice(0, MAX_SERVERS_TRIED);
  }

  /** Stores the events oldest first at positions below every stored event; returns the count. */
  async #store(origin: string, version: RoomVersion, events: RoomEvent[]): Promise<number> {
    const { graph, remote } = this.#deps;
    const statuses = await graph.eventStatuses(events.map((event) => event.eventId));
    const fresh = events.filter((event) => statuses.get(event.eventId)?.outlier !== false);
    const positions = await graph.reserveBackfillPositions(fresh.length);
    let stored = 0;
    for (const [index, event] of fresh.entries()) {
      const missingAuth = await remote.ensureStored(
        origin,
        event.roomId,
        version,
        event.authEventIds,
      );
      if (missingAuth.length > 0) {
        this.#log.info(
          { room_id: event.roomId, event_id: event.eventId, missing: missingAuth },
          'backfilled event dropped: auth events missing',
        );
        continue;
      }
      let stateBefore: StateMap;
      try {
        stateBefore = await this.#stateBefore(origin, version, event);
      } catch (error) {
        // The other server would not give the state there: skip the event (those after it ask
        // for the state at it in turn); what was stored so far stays.
        this.#log.info(
          { room_id: event.roomId, event_id: event.eventId, err: error },
          'backfilled event dropped: no state before it',
        );
        continue;
      }
      const check = await graph.checkEvent(event, { stateBefore });
      await graph.persistEvent(event, {
        stateBefore: check.stateBefore,
        backfilledAt: positions[index] as number,
        ...(check.rejected === undefined ? {} : { rejected: check.rejected }),
      });
      if (check.rejected === undefined) stored += 1;
    }
    this.#log.debug(
      { room_id: events[0]?.roomId, destination: origin, stored, received: events.length },
      'backfilled',
    );
    return stored;
  }

  /**
   * The state before a backfilled event: from its prev events if they are in the graph, else
   * the state after each of them as `origin` has it (`/state_ids`), resolved.
   */
  async #stateBefore(origin: string, version: RoomVersion, event: RoomEvent): Promise<StateMap> {
    const { graph, remote } = this.#deps;
    try {
      return await graph.computeStateBefore(event.roomId, event.prevEventIds);
    } catch (error) {
      if (!(error instanceof MissingEventsError)) throw error;
    }
    const prevs = [...new Set(event.prevEventIds)];
    const known = await graph.placementsOf(prevs);
    const states: StateMap[] = [];
    for (const prev of prevs) {
      const placement = known.get(prev);
      states.push(
        placement !== undefined
          ? placement.stateAfter
          : await remote.stateAfterRemoteEvent(origin, event.roomId, version, prev),
      );
    }
    if (states.length === 1) return states[0] as StateMap;
    return resolveState(version, states, (ids) => graph.getEvents(ids));
  }
}

/**
 * The events among `fetched` that lead to one of `points` through `prev_events` within the
 * fetched ones (the points themselves included), oldest first: each after its prev events.
 */
export function leadingTo(
  points: readonly string[],
  fetched: ReadonlyMap<string, RoomEvent>,
): RoomEvent[] {
  const kept = new Map<string, RoomEvent>();
  const queue = points.filter((id) => fetched.has(id));
  while (queue.length > 0) {
    const id = queue.shift() as string;
    const event = fetched.get(id);
    if (event === undefined || kept.has(id)) continue;
    kept.set(id, event);
    for (const prev of event.prevEventIds) if (fetched.has(prev)) queue.push(prev);
  }
  // By depth, then each after its prev events (depth is the sender's claim, not trusted).
  const byDepth = [...kept.values()].sort(
    (a, b) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0),
  );
  const ordered: RoomEvent[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (event: RoomEvent) => {
    if (placed.has(event.eventId) || visiting.has(event.eventId)) return;
    visiting.add(event.eventId);
    for (const prev of event.prevEventIds) {
      const prevEvent = kept.get(prev);
      if (prevEvent !== undefined) visit(prevEvent);
    }
    visiting.delete(event.eventId);
    placed.add(event.eventId);
    ordered.push(event);
  };
  for (const event of byDepth) visit(event);
  return ordered;
}
