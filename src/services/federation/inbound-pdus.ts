/**
 * The PDUs of an inbound transaction, through the server-server "Checks performed on receipt of
 * a PDU": for each PDU, the room must be known here and the sending server allowed by the
 * room's server ACL; then format, signatures and content hash (`verifyPdu`: a bad hash gives
 * the redacted copy); auth against its auth events (unknown ones fetched from the origin and
 * stored as outliers); auth against the state before it (prev events unknown here: first
 * `/get_missing_events` to fill the gap, then, for what is still missing, the state at each
 * missing prev event from `/state_ids`); soft failure against the current state; and storing
 * through `RoomEvents.persistReceived`, which keeps memberships and redactions and wakes syncs.
 *
 * One room at a time in order (a lock per room owned by this instance), rooms in parallel up to
 * `maxParallelRooms` for the whole tenant, so that one origin's flood cannot take every slot
 * for long. An event stored already (not as an outlier) is a no-op.
 *
 * `stats()` counts the PDUs of transactions by outcome (events fetched to fill gaps are not
 * counted), for the shard's metrics.
 */

import type { Logger } from 'pino';
import type { JsonObject } from '../../core/canonical-json.js';
import { computeEventId } from '../../protocol/event-hashing.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import { getRoomVersion } from '../../protocol/room-versions.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import { resolveState } from '../../protocol/state-resolution/resolve-state.js';
import { MissingEventsError } from '../room-graph/room-graph.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { KeyedLock } from '../rooms/keyed-lock.js';
import type { RoomEvents } from '../rooms/room-events.js';
import type { FederationClient, RemoteKeys } from './federation-contracts.js';
import { FederationRequestError } from './federation-contracts.js';
import { PduRejected, verifyPdu } from './pdu-verification.js';
import { RemoteEvents } from './remote-events.js';
import { Semaphore } from '../../core/semaphore.js';
import type { ServerRoomAccess } from './server-room-access.js';

/** How one PDU was handled, as `PUT /send` answers it: `{}` or `{ error }`. */
export type PduResult = { error?: string };

/**
 * What became of a received PDU: stored and current (`accepted`), stored but soft-failed,
 * stored as rejected by the auth rules, or `refused` before it could be checked against them
 * (unknown room, server ACL, bad signature or hash, its auth or prev events not to be had).
 */
export type PduOutcome = 'accepted' | 'soft_failed' | 'rejected' | 'refused';

/** PDUs received by one `InboundPdus` instance, by outcome (an event stored already is not). */
export type InboundPduStats = Readonly<Record<PduOutcome, number>>;

/** Rooms whose PDUs are processed at once (per tenant). */
const DEFAULT_PARALLEL_ROOMS = 4;
/** `/get_missing_events` asks for at most this many events. */
const MISSING_EVENTS_LIMIT = 10;

export interface InboundPdusDeps {
  graph: RoomGraph;
  roomEvents: Pick<RoomEvents, 'persistReceived'>;
  client: FederationClient;
  remoteKeys: RemoteKeys;
  access: ServerRoomAccess;
  logger: Logger;
  maxParallelRooms?: number;
}

/** A PDU that failed a check: its event ID gets `{ error: message }`. */
class PduError extends Error {}

export class InboundPdus {
  readonly #graph: RoomGraph;
  readonly #roomEvents: Pick<RoomEvents, 'persistReceived'>;
  readonly #remoteKeys: RemoteKeys;
  readonly #access: ServerRoomAccess;
  readonly #remote: RemoteEvents;
  readonly #log: Logger;
  readonly #roomLock = new KeyedLock();
  readonly #slots: Semaphore;
  readonly #outcomes: Record<PduOutcome, number> = {
    accepted: 0,
    soft_failed: 0,
    rejected: 0,
    refused: 0,
  };

  constructor(deps: InboundPdusDeps) {
    this.#graph = deps.graph;
    this.#roomEvents = deps.roomEvents;
    this.#remoteKeys = deps.remoteKeys;
    this.#access = deps.access;
    this.#log = deps.logger;
    this.#remote = new RemoteEvents(deps);
    this.#slots = new Semaphore(deps.maxParallelRooms ?? DEFAULT_PARALLEL_ROOMS);
  }

  stats(): InboundPduStats {
    return { ...this.#outcomes };
  }

  /** The fetching side (shared with backfill). */
  get remote(): RemoteEvents {
    return this.#remote;
  }

  /**
   * Handles the PDUs `origin` sent, by room in parallel and in order within a room. Returns the
   * result per event ID (PDUs too malformed to have one are left out).
   */
  async receive(origin: string, pdus: readonly JsonObject[]): Promise<Record<string, PduResult>> {
    const results: Record<string, PduResult> = {};
    const byRoom = new Map<string, { version: RoomVersion; pdus: [string, JsonObject][] }>();
    for (const pdu of pdus) {
      const roomId = pdu.room_id;
      const version =
        typeof roomId === 'string' ? await this.#graph.roomVersionOf(roomId) : undefined;
      const eventId = eventIdOf(pdu, version);
      if (eventId === undefined) {
        this.#outcomes.refused += 1;
        continue;
      }
      if (typeof roomId !== 'string' || version === undefined) {
        this.#outcomes.refused += 1;
        results[eventId] = { error: `Unknown room ${String(roomId)}` };
        continue;
      }
      let room = byRoom.get(roomId);
      if (room === undefined) byRoom.set(roomId, (room = { version, pdus: [] }));
      room.pdus.push([eventId, pdu]);
    }
    await Promise.all(
      [...byRoom].map(([roomId, room]) =>
        this.#slots.run(() =>
          this.#roomLock.run(roomId, async () => {
            for (const [eventId, pdu] of room.pdus) {
              results[eventId] = await this.#receiveOne(origin, roomId, room.version, eventId, pdu);
            }
          }),
        ),
      ),
    );
    return results;
  }

  async #receiveOne(
    origin: string,
    roomId: string,
    version: RoomVersion,
    eventId: string,
    pdu: JsonObject,
  ): Promise<PduResult> {
    try {
      if (!(await this.#access.aclAllows(roomId, origin))) {
        throw new PduError(`${origin} is denied by the server ACL of ${roomId}`);
      }
      const status = (await this.#graph.eventStatuses([eventId])).get(eventId);
      if (status !== undefined && !status.outlier) return {};
      const { event } = await verifyPdu(pdu, version, this.#remoteKeys);
      if (event.roomId !== roomId) throw new PduError(`The event is not in ${roomId}`);
      const sender = serverOf(event.sender);
      if (sender !== origin && !(await this.#access.aclAllows(roomId, sender))) {
        throw new PduError(`${sender} is denied by the server ACL of ${roomId}`);
      }
      const { result, outcome } = await this.#process(origin, event, version, true);
      this.#outcomes[outcome] += 1;
      return result;
    } catch (error) {
      if (error instanceof PduRejected || error instanceof PduError) {
        this.#outcomes.refused += 1;
        return { error: error.message };
      }
      if (error instanceof FederationRequestError || error instanceof MissingEventsError) {
        this.#outcomes.refused += 1;
        this.#log.info({ room_id: roomId, event_id: eventId, err: error }, 'PDU not processed');
        return { error: `Could not process the event: ${error.message}` };
      }
      throw error;
    }
  }

  /**
   * Checks 4–6 and storing, for a verified event. With `fillGaps`, prev events not known here
   * are fetched; without, a `MissingEventsError` is thrown for them.
   */
  async #process(
    origin: string,
    event: RoomEvent,
    version: RoomVersion,
    fillGaps: boolean,
  ): Promise<{ result: PduResult; outcome: Exclude<PduOutcome, 'refused'> }> {
    const authEvents = await this.#authEvents(origin, event, version);
    let stateBefore: StateMap;
    try {
      stateBefore = await this.#graph.computeStateBefore(event.roomId, event.prevEventIds);
    } catch (error) {
      if (!(error instanceof MissingEventsError) || !fillGaps) throw error;
      stateBefore = await this.#fillGap(origin, event, version);
    }
    const check = await this.#graph.checkEvent(event, { authEvents, stateBefore });
    await this.#roomEvents.persistReceived(event, {
      stateBefore: check.stateBefore,
      ...(check.rejected === undefined ? {} : { rejected: check.rejected }),
      ...(check.softFailed === true ? { softFailed: true } : {}),
    });
    this.#log.debug(
      {
        room_id: event.roomId,
        event_id: event.eventId,
        rejected: check.rejected?.rule,
        soft_failed: check.softFailed,
      },
      'PDU received',
    );
    if (check.rejected !== undefined) {
      return {
        result: { error: `The event was rejected: ${check.rejected.reason}` },
        outcome: 'rejected',
      };
    }
    return { result: {}, outcome: check.softFailed === true ? 'soft_failed' : 'accepted' };
  }

  /** The event's auth events, fetched from `origin` (and stored as outliers) if unknown. */
  async #authEvents(origin: string, event: RoomEvent, version: RoomVersion): Promise<RoomEvent[]> {
    const ids = event.authEventIds;
    let found = await this.#graph.getEvents(ids);
    if (found.size < new Set(ids).size) {
      const missing = await this.#remote.ensureStored(
        origin,
        event.roomId,
        version,
        ids.filter((id) => !found.has(id)),
      );
      if (missing.length > 0) throw new MissingEventsError('auth_events', missing);
      found = await this.#graph.getEvents(ids);
    }
    return ids.map((id) => found.get(id) as RoomEvent);
  }

  /**
   * The state before an event whose prev events are not all known here. First asks `origin`
   * for the events in between (`/get_missing_events`) and takes those that connect to what is
   * known; if prev events are still missing, takes the state at each of them from `origin`
   * (`/state_ids`) and resolves it with the states of the known ones.
   */
  async #fillGap(origin: string, event: RoomEvent, version: RoomVersion): Promise<StateMap> {
    const roomId = event.roomId;
    const extremities = await this.#graph.forwardExtremities(roomId);
    const extremityEvents = await this.#graph.getEvents(extremities);
    const minDepth = Math.min(...[...extremityEvents.values()].map((e) => e.depth), event.depth);
    try {
      const missing = await this.#remote.missingEvents(origin, roomId, version, {
        earliest: extremities,
        latest: [event.eventId],
        limit: MISSING_EVENTS_LIMIT,
        minDepth,
      });
      for (const gapEvent of missing) {
        if (gapEvent.eventId === event.eventId) continue;
        const status = (await this.#graph.eventStatuses([gapEvent.eventId])).get(gapEvent.eventId);
        if (status !== undefined && !status.outlier) continue;
        try {
          await this.#process(origin, gapEvent, version, false);
        } catch (error) {
          // Not connected to known events: left to the state fetched below.
          if (!(error instanceof MissingEventsError)) throw error;
        }
      }
    } catch (error) {
      if (!(error instanceof FederationRequestError)) throw error;
      this.#log.info({ room_id: roomId, err: error }, '/get_missing_events failed');
    }

    try {
      return await this.#graph.computeStateBefore(roomId, event.prevEventIds);
    } catch (error) {
      if (!(error instanceof MissingEventsError)) throw error;
    }
    const prevs = [...new Set(event.prevEventIds)];
    const known = await this.#graph.placementsOf(prevs);
    const states: StateMap[] = [];
    for (const prev of prevs) {
      const placement = known.get(prev);
      states.push(
        placement !== undefined
          ? placement.stateAfter
          : await this.#remote.stateAfterRemoteEvent(origin, roomId, version, prev),
      );
    }
    if (states.length === 1) return states[0] as StateMap;
    return resolveState(version, states, (ids) => this.#graph.getEvents(ids));
  }
}

/**
 * The event ID of a PDU: computed for a known room's version; for v1–2 PDUs (and unknown
 * rooms) the `event_id` they carry; else the v4+ reference hash, enough to name the PDU in an
 * error. Undefined if none can be had.
 */
function eventIdOf(pdu: JsonObject, version: RoomVersion | undefined): string | undefined {
  try {
    if (version !== undefined) return computeEventId(pdu, version);
    if (typeof pdu.event_id === 'string') return pdu.event_id;
    return computeEventId(pdu, getRoomVersion('11') as RoomVersion);
  } catch {
    return undefined;
  }
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}
