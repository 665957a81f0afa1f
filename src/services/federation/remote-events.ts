/**
 * Events fetched from another server to make sense of one it sent: missing auth events, the
 * state at a `prev_event` this server never saw, the events of a gap. Every event fetched is
 * verified (format, signatures, content hash) like any PDU, then stored as an outlier — known,
 * but outside the room's graph — after a check against its own auth events, in auth order, so
 * that each one's auth events are stored (with their verdicts) before it.
 *
 * Fetching is bounded: at most `MAX_FETCHED_EVENTS` events per call, a few requests at once.
 */

import type { Logger } from 'pino';
import type { JsonObject } from '../../core/canonical-json.js';
import { stateKeyOf } from '../../protocol/room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { FederationClient, RemoteKeys } from './federation-contracts.js';
import { verifyPdu } from './pdu-verification.js';

/** No single gap fill or auth chain fetch stores more events than this. */
export const MAX_FETCHED_EVENTS = 2000;
/** `/event` requests in flight at once for one fetch. */
const PARALLEL_FETCHES = 8;
/** Above this many unknown state and auth events, `/state` (one request) beats `/event` each. */
const STATE_IDS_FETCH_LIMIT = 20;

export interface RemoteEventsDeps {
  graph: RoomGraph;
  client: FederationClient;
  remoteKeys: RemoteKeys;
  logger: Logger;
}

const CREATE_KEY = stateKeyOf('m.room.create', '');

export class RemoteEvents {
  readonly #graph: RoomGraph;
  readonly #client: FederationClient;
  readonly #remoteKeys: RemoteKeys;
  readonly #log: Logger;

  constructor(deps: RemoteEventsDeps) {
    this.#graph = deps.graph;
    this.#client = deps.client;
    this.#remoteKeys = deps.remoteKeys;
    this.#log = deps.logger;
  }

  /**
   * Verifies PDUs of one room; those that fail (format, signature, other room) are left out
   * and logged. The result is keyed by event ID.
   */
  async verifyAll(
    roomId: string,
    version: RoomVersion,
    pdus: readonly unknown[],
  ): Promise<Map<string, RoomEvent>> {
    const verified = new Map<string, RoomEvent>();
    for (const pdu of pdus) {
      if (pdu === null || typeof pdu !== 'object' || Array.isArray(pdu)) continue;
      try {
        const { event } = await verifyPdu(pdu as JsonObject, version, this.#remoteKeys);
        if (event.roomId !== roomId) throw new Error(`it is in ${event.roomId}, not ${roomId}`);
        verified.set(event.eventId, event);
      } catch (error) {
        this.#log.info({ room_id: roomId, err: error }, 'fetched event dropped');
      }
    }
    return verified;
  }

  /**
   * Makes sure the events `ids` of the room are stored (as outliers if they were not), with
   * their auth chains: asks `origin` for each unknown one with `/event`, then for their unknown
   * auth events, and so on. Returns the IDs that could not be had.
   */
  async ensureStored(
    origin: string,
    roomId: string,
    version: RoomVersion,
    ids: readonly string[],
  ): Promise<string[]> {
    const fetched = new Map<string, RoomEvent>();
    const failed = new Set<string>();
    let wanted = await this.#unknown(ids);
    while (wanted.length > 0 && fetched.size < MAX_FETCHED_EVENTS) {
      const batch = wanted.slice(0, MAX_FETCHED_EVENTS - fetched.size);
      const pdus = await mapBounded(batch, PARALLEL_FETCHES, (id) => this.#fetchEvent(origin, id));
      const verified = await this.verifyAll(
        roomId,
        version,
        pdus.filter((pdu) => pdu !== undefined),
      );
      for (const id of batch) {
        const event = verified.get(id);
        if (event === undefined) failed.add(id);
        else fetched.set(id, event);
      }
      const authIds = [...verified.values()].flatMap((event) => event.authEventIds);
      const next = authIds.filter((id) => !fetched.has(id) && !failed.has(id));
      wanted = await this.#unknown([...new Set(next)]);
    }
    await this.storeOutliers(version, [...fetched.values()]);
    return this.#unknown(ids);
  }

  /**
   * The room state after `eventId` as `origin` knows it (`/state_ids` gives the state before
   * it; the event itself is added if it is an accepted state event), with every event of it and
   * of its auth chain stored (as outliers if new). Throws `FederationRequestError`.
   */
  async stateAfterRemoteEvent(
    origin: string,
    roomId: string,
    version: RoomVersion,
    eventId: string,
  ): Promise<StateMap> {
    const answer = await this.#client.request(origin, {
      method: 'GET',
      path: `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`,
      query: { event_id: eventId },
    });
    const stateIds = stringList(answer.pdu_ids);
    const authIds = stringList(answer.auth_chain_ids);
    const unknown = await this.#unknown([...new Set([eventId, ...stateIds, ...authIds])]);
    if (unknown.length > STATE_IDS_FETCH_LIMIT) {
      // One `/state` request instead of many `/event` ones.
      const full = await this.#client.request(origin, {
        method: 'GET',
        path: `/_matrix/federation/v1/state/${encodeURIComponent(roomId)}`,
        query: { event_id: eventId },
      });
      const pdus = [...arrayOf(full.pdus), ...arrayOf(full.auth_chain)];
      const verified = await this.verifyAll(roomId, version, pdus);
      await this.storeOutliers(version, [...verified.values()]);
    }
    const missing = await this.ensureStored(origin, roomId, version, unknown);
    if (missing.length > 0) {
      throw new Error(`could not get the events ${missing.join(', ')} from ${origin}`);
    }

    const events = await this.#graph.getEvents([...stateIds, eventId]);
    const state = new Map<StateKey, string>();
    for (const id of stateIds) {
      const event = events.get(id);
      if (event?.stateKey !== undefined) state.set(stateKeyOf(event.type, event.stateKey), id);
    }
    const event = events.get(eventId);
    const status = (await this.#graph.eventStatuses([eventId])).get(eventId);
    if (event?.stateKey !== undefined && status?.rejectedReason === undefined) {
      state.set(stateKeyOf(event.type, event.stateKey), eventId);
    }
    return state;
  }

  /**
   * `/get_missing_events`: the events between this server's `earliest` events and `latest`
   * (at most `limit`, not below `minDepth`), verified, oldest first.
   */
  async missingEvents(
    origin: string,
    roomId: string,
    version: RoomVersion,
    request: {
      earliest: readonly string[];
      latest: readonly string[];
      limit: number;
      minDepth: number;
    },
  ): Promise<RoomEvent[]> {
    const answer = await this.#client.request(origin, {
      method: 'POST',
      path: `/_matrix/federation/v1/get_missing_events/${encodeURIComponent(roomId)}`,
      body: {
        earliest_events: [...request.earliest],
        latest_events: [...request.latest],
        limit: request.limit,
        min_depth: request.minDepth,
      },
    });
    const verified = await this.verifyAll(roomId, version, arrayOf(answer.events));
    return [...verified.values()].sort(
      (a, b) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : 1),
    );
  }

  /**
   * Stores verified events as outliers, each judged against its own auth events, in an order
   * where auth events come first. Events already stored, or whose auth events cannot be found,
   * are skipped.
   */
  async storeOutliers(version: RoomVersion, events: readonly RoomEvent[]): Promise<void> {
    const known = await this.#graph.eventStatuses(events.map((event) => event.eventId));
    const pending = new Map(
      events.filter((event) => !known.has(event.eventId)).map((event) => [event.eventId, event]),
    );
    for (const event of authOrder(pending)) {
      const found = await this.#graph.getEvents(event.authEventIds);
      if (found.size !== new Set(event.authEventIds).size) {
        this.#log.info(
          { room_id: event.roomId, event_id: event.eventId },
          'fetched event skipped: its auth events are missing',
        );
        continue;
      }
      const authEvents = event.authEventIds.map((id) => found.get(id) as RoomEvent);
      const check = await this.#graph.checkEvent(event, {
        authEvents,
        stateBefore: authStateMap(event, version, authEvents),
      });
      await this.#graph.persistEvent(event, {
        outlier: true,
        ...(check.rejected === undefined ? {} : { rejected: check.rejected }),
      });
    }
  }

  async #fetchEvent(origin: string, eventId: string): Promise<JsonObject | undefined> {
    try {
      const answer = await this.#client.request(origin, {
        method: 'GET',
        path: `/_matrix/federation/v1/event/${encodeURIComponent(eventId)}`,
      });
      const [pdu] = arrayOf(answer.pdus);
      return pdu !== null && typeof pdu === 'object' && !Array.isArray(pdu)
        ? (pdu as JsonObject)
        : undefined;
    } catch (error) {
      this.#log.info({ event_id: eventId, destination: origin, err: error }, 'event not fetched');
      return undefined;
    }
  }

  /** The IDs among `ids` that are not stored at all. */
  async #unknown(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const found = await this.#graph.eventStatuses(ids);
    return ids.filter((id) => !found.has(id));
  }
}

/** The state an event's auth events make (for checking an outlier against them alone). */
function authStateMap(
  event: RoomEvent,
  version: RoomVersion,
  authEvents: readonly RoomEvent[],
): StateMap {
  const state = new Map<StateKey, string>();
  for (const authEvent of authEvents) {
    if (authEvent.stateKey !== undefined) {
      state.set(stateKeyOf(authEvent.type, authEvent.stateKey), authEvent.eventId);
    }
  }
  // v12: the room ID names the create event, which no event lists.
  if (version.roomIdFromCreateEvent && event.type !== 'm.room.create') {
    state.set(CREATE_KEY, `$${event.roomId.slice(1)}`);
  }
  return state;
}

/** The events in an order where each comes after those of its auth events that are in the set. */
export function authOrder(events: ReadonlyMap<string, RoomEvent>): RoomEvent[] {
  const ordered: RoomEvent[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const byDepth = [...events.values()].sort((a, b) => a.depth - b.depth);
  const visit = (event: RoomEvent) => {
    if (done.has(event.eventId) || visiting.has(event.eventId)) return;
    visiting.add(event.eventId);
    for (const id of event.authEventIds) {
      const authEvent = events.get(id);
      if (authEvent !== undefined) visit(authEvent);
    }
    visiting.delete(event.eventId);
    done.add(event.eventId);
    ordered.push(event);
  };
  for (const event of byDepth) visit(event);
  return ordered;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function stringList(value: unknown): string[] {
  return arrayOf(value).filter((entry) => typeof entry === 'string');
}
