/**
 * A tenant's rooms as event graphs: the API federation and the client-server code call to store
 * events, ask for the state at any point of a room, and check new events.
 *
 * Receiving an event (server-server "Checks performed on receipt of a PDU", after the signature
 * and hash checks):
 *
 *     const check = await graph.checkEvent(event, { authEvents });   // steps 4–6
 *     const position = await graph.persistEvent(event, check);         // stores it, whatever the verdict
 *
 * Sending one: `prev_events` = `forwardExtremities(roomId)`, the state to pick `auth_events` from
 * = `computeStateBefore(roomId, prevEvents)`, then build, sign, check and persist as above.
 * Events known without their state (auth chains, invites, events fetched to fill a gap) are
 * stored with `{ outlier: true }`; persisting one again later with its state makes it part of the
 * graph. `getEvents` is also the `fetchEvents` callback of state resolution.
 *
 * State maps returned are shared with the caches: read them, never cast them to `Map` and modify
 * them. One instance per tenant database; its caches are its own (nothing is shared across
 * instances or tenants) and are dropped with it.
 */

import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import {
  authEventKeysFor,
  checkAuthEventsList,
} from '../../protocol/auth/auth-events-selection.js';
import { authorizeEvent, buildAuthState } from '../../protocol/auth/authorize-event.js';
import type { AuthState } from '../../protocol/auth/authorize-event.js';
import { stateKeyOf, toRoomEvent } from '../../protocol/room-event.js';
import type { RoomEvent, StateKey, StateMap } from '../../protocol/room-event.js';
import { getRoomVersion, requireRoomVersion } from '../../protocol/room-versions.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import {
  authChain as collectAuthChain,
  authChainDifference as computeAuthChainDifference,
} from '../../protocol/state-resolution/auth-chain.js';
import { resolveState } from '../../protocol/state-resolution/resolve-state.js';
import {
  insertEvent,
  selectAuthEventIds,
  selectEventMetadata,
  selectEventPdus,
  updateOutlierToEvent,
} from '../../storage/room-graph/events.js';
import type { EventMetadataRow } from '../../storage/room-graph/events.js';
import {
  advanceForwardExtremities,
  selectForwardExtremities,
} from '../../storage/room-graph/forward-extremities.js';
import { insertRoom, selectRoomVersion } from '../../storage/room-graph/rooms.js';
import { selectBackfillPoints } from '../../storage/room-graph/backfill-points.js';
import { nextSequenceValue, takeBackfillPositions } from '../../storage/room-graph/sequences.js';
import {
  diffStates,
  insertEventStateGroup,
  insertStateGroup,
  loadStateGroup,
  planStateGroup,
  selectEventStates,
  selectStateGroupInfo,
} from '../../storage/room-graph/state-groups.js';
import type { StateGroupInfo, StateGroupPlan } from '../../storage/room-graph/state-groups.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { LruCache } from './lru-cache.js';

/** Full state maps kept per instance; a map of a 5,000-member room weighs about a megabyte. */
const DEFAULT_STATE_CACHE_SIZE = 32;
/** Parsed events kept per instance (state resolution and auth checks read the same ones again). */
const DEFAULT_EVENT_CACHE_SIZE = 4096;
/** Rooms whose forward extremities (and current state) are kept: every send reads them. */
const HEAD_CACHE_SIZE = 256;
/** Verdicts (accepted or rejected) of stored events kept: auth checks read those of auth events. */
const VERDICT_CACHE_SIZE = 8192;

const CREATE_KEY = stateKeyOf('m.room.create', '');

export interface RoomGraphOptions {
  logger?: Logger;
  /** How many state maps (of state groups, and resolved across forks) to keep in memory. */
  stateCacheSize?: number;
  /** How many parsed events to keep in memory. */
  eventCacheSize?: number;
}

/** Why the auth rules refused an event: the rule's name and a sentence for logs. */
export interface Rejection {
  readonly rule: string;
  readonly reason: string;
}

/** The verdict of the checks on a new event, and the state it was judged against. */
export interface EventCheck {
  /** Set if the event fails auth against its auth events or the state before it. */
  readonly rejected?: Rejection;
  /** True if it passes those but not the room's current state (only checked if not rejected). */
  readonly softFailed?: boolean;
  /** The room state before the event, to pass on to `persistEvent`. */
  readonly stateBefore: StateMap;
}

export interface PersistEventOptions {
  /** The room state before the event; required unless `outlier`. */
  readonly stateBefore?: StateMap;
  /** Stored as rejected: it never becomes state nor a forward extremity. */
  readonly rejected?: Rejection;
  /** Stored and part of the graph, but not a forward extremity (nor shown to clients). */
  readonly softFailed?: boolean;
  /** Stored without state, outside the known graph. */
  readonly outlier?: boolean;
  /**
   * Stored as part of the room's past, fetched after later events (backfill): at this stream
   * position (one of `reserveBackfillPositions`, below every other event's), and never a forward
   * extremity (later events follow it already).
   */
  readonly backfilledAt?: number;
  /**
   * More writes that belong with the event (memberships, transaction IDs, …), run inside the
   * transaction that stores it, after the event and its state: they commit or roll back with
   * it. Not called when the event was stored already.
   */
  readonly withinTransaction?: (
    trx: Transaction<Database>,
    streamOrdering: number,
  ) => Promise<void>;
}

/** Where a stored event sits in its room (see `placementsOf`). */
export interface EventPlacement {
  readonly stateAfter: StateMap;
  readonly replacesState: string | null;
  readonly streamOrdering: number;
}

/** How a stored event was handled. */
export interface EventStatus {
  readonly eventId: string;
  readonly roomId: string;
  readonly streamOrdering: number;
  readonly outlier: boolean;
  readonly softFailed: boolean;
  /** `rule: reason` if the event was rejected. */
  readonly rejectedReason: string | undefined;
}

export class RoomGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoomGraphError';
  }
}

/**
 * Events needed for an operation are not stored (with their state, for `prev_events`): the
 * caller has to fetch them (or the state at them) first, e.g. with `/get_missing_events` or
 * `/state_ids`.
 */
export class MissingEventsError extends RoomGraphError {
  readonly role: 'prev_events' | 'auth_events';
  readonly eventIds: readonly string[];

  constructor(role: 'prev_events' | 'auth_events', eventIds: readonly string[]) {
    super(
      role === 'prev_events'
        ? `no state is stored for prev_events ${eventIds.join(', ')}`
        : `auth_events ${eventIds.join(', ')} are not stored`,
    );
    this.name = 'MissingEventsError';
    this.role = role;
    this.eventIds = eventIds;
  }
}

/** Thrown inside a transaction to roll it back when another writer stored the event first. */
class AlreadyStored {
  constructor(readonly streamOrdering: number) {}
}

interface CachedGroup {
  readonly info: StateGroupInfo;
  readonly state: StateMap;
}

/** How a stored event was judged. */
interface Verdict {
  readonly outlier: boolean;
  readonly softFailed: boolean;
  /** `rule: reason`, or null when accepted. */
  readonly rejectedReason: string | null;
  /** The stream position of an event of the room's past (see `PersistEventOptions`). */
  readonly backfilledAt?: number;
}

/** The state after an event and how to store it. */
interface PlannedState {
  readonly after: StateMap;
  readonly plan: StateGroupPlan;
  /** The event the new one replaces at its state key, if any. */
  readonly replacesState: string | null;
}

/** What writing an event did: its position, the new state group, whether it is an extremity. */
interface WrittenEvent {
  readonly streamOrdering: number;
  readonly group: StateGroupInfo | undefined;
  readonly extremity: boolean;
}

/** A room's forward extremities (sorted) and, once known, the state after them. */
interface RoomHead {
  readonly extremities: readonly string[];
  readonly state?: StateMap;
}

export class RoomGraph {
  readonly #db: TenantDatabase;
  readonly #log: Logger | undefined;
  readonly #groups: LruCache<number, CachedGroup>;
  /** Resolved states by the sorted list of the state groups they resolve. */
  readonly #resolved: LruCache<string, StateMap>;
  readonly #events: LruCache<string, RoomEvent>;
  /** Room versions never change: kept for every room asked about. */
  readonly #versions = new Map<string, RoomVersion>();
  /** State maps this instance built, by the group whose state they are exactly. */
  readonly #groupOfState = new WeakMap<StateMap, number>();
  /** Rooms' extremities and current state, kept up to date by this instance's own writes. */
  readonly #heads = new LruCache<string, RoomHead>(HEAD_CACHE_SIZE);
  /** Stored events' rejection reasons (null: accepted), which change only when an outlier joins. */
  readonly #verdicts = new LruCache<string, string | null>(VERDICT_CACHE_SIZE);
  /**
   * Event writes in progress, and a counter bumped when one starts or ends. What a read finds
   * is cached only if no write overlapped the read (else it may already be stale), and a write
   * updates the caches itself only if no other write overlapped it.
   */
  #writesInProgress = 0;
  #writeGeneration = 0;

  constructor(db: TenantDatabase, options: RoomGraphOptions = {}) {
    this.#db = db;
    this.#log = options.logger;
    const stateCacheSize = options.stateCacheSize ?? DEFAULT_STATE_CACHE_SIZE;
    this.#groups = new LruCache(stateCacheSize);
    this.#resolved = new LruCache(stateCacheSize);
    this.#events = new LruCache(options.eventCacheSize ?? DEFAULT_EVENT_CACHE_SIZE);
  }

  /**
   * Records a room and its version (throws `M_UNSUPPORTED_ROOM_VERSION` for an unknown one).
   * Creating a room again with the same version does nothing; with another, it throws.
   */
  async createRoom(roomId: string, roomVersion: string): Promise<RoomVersion> {
    const version = requireRoomVersion(roomVersion);
    const stored = await this.#db.transact((trx) => insertRoom(trx, roomId, version.id));
    if (stored !== version.id) {
      throw new RoomGraphError(`room ${roomId} exists with version ${stored}, not ${version.id}`);
    }
    this.#versions.set(roomId, version);
    return version;
  }

  /** The room's version, or undefined for a room this tenant does not know. */
  async roomVersionOf(roomId: string): Promise<RoomVersion | undefined> {
    const known = this.#versions.get(roomId);
    if (known !== undefined) return known;
    const id = await this.#db.read((db) => selectRoomVersion(db, roomId));
    if (id === undefined) return undefined;
    const version = getRoomVersion(id);
    if (version === undefined) throw new RoomGraphError(`room ${roomId} has unknown version ${id}`);
    this.#versions.set(roomId, version);
    return version;
  }

  /**
   * The stored events among `ids` (rejected, soft-failed and outliers included), by ID. IDs not
   * stored are left out. This is the `fetchEvents` callback of state resolution.
   */
  async getEvents(ids: readonly string[]): Promise<Map<string, RoomEvent>> {
    const found = new Map<string, RoomEvent>();
    const wanted = new Set<string>();
    for (const id of ids) {
      const cached = this.#events.get(id);
      if (cached !== undefined) found.set(id, cached);
      else wanted.add(id);
    }
    if (wanted.size === 0) return found;
    const rows = await this.#db.read((db) => selectEventPdus(db, [...wanted]));
    const versions = new Map<string, RoomVersion>();
    for (const roomId of new Set(rows.map((row) => row.room_id))) {
      versions.set(roomId, await this.#requireVersion(roomId));
    }
    for (const row of rows) {
      const version = versions.get(row.room_id) as RoomVersion;
      // The ID was computed from the PDU when it was stored: no need to hash it again.
      const event = toRoomEvent(JSON.parse(row.pdu) as RoomEvent['pdu'], version, row.event_id);
      this.#events.set(event.eventId, event);
      found.set(event.eventId, event);
    }
    return found;
  }

  async getEvent(id: string): Promise<RoomEvent | undefined> {
    return (await this.getEvents([id])).get(id);
  }

  /** How the stored events among `ids` were handled, by ID. */
  async eventStatuses(ids: readonly string[]): Promise<Map<string, EventStatus>> {
    const rows = await this.#db.read((db) => selectEventMetadata(db, ids));
    return new Map(rows.map((row) => [row.event_id, toStatus(row)]));
  }

  /** The room state after a stored event; undefined if it is unknown or an outlier. */
  async stateAfterEvent(eventId: string): Promise<StateMap | undefined> {
    const row = (await this.#db.read((db) => selectEventStates(db, [eventId]))).get(eventId);
    return row === undefined ? undefined : (await this.#group(row.stateGroup)).state;
  }

  /**
   * Where stored events sit in their rooms, in one query: for each of `ids` that is part of a
   * room's graph (outliers and unknown events are left out), the state after it, the event it
   * replaced at its state key (null: none, or not a state event) and its stream position.
   */
  async placementsOf(ids: readonly string[]): Promise<Map<string, EventPlacement>> {
    const rows = await this.#db.read((db) => selectEventStates(db, ids));
    const placements = new Map<string, EventPlacement>();
    for (const row of rows.values()) {
      placements.set(row.eventId, {
        stateAfter: (await this.#group(row.stateGroup)).state,
        replacesState: row.replacesState,
        streamOrdering: row.streamOrdering,
      });
    }
    return placements;
  }

  /** The room state before a stored event; undefined if it is unknown or an outlier. */
  async stateBeforeEvent(eventId: string): Promise<StateMap | undefined> {
    const row = (await this.#db.read((db) => selectEventStates(db, [eventId]))).get(eventId);
    if (row === undefined) return undefined;
    const after = (await this.#group(row.stateGroup)).state;
    // Only an accepted state event changes the state, and only at its own key.
    if (row.stateKey === null || row.rejected) return after;
    const before = new Map(after);
    const key = stateKeyOf(row.type, row.stateKey);
    if (row.replacesState === null) before.delete(key);
    else before.set(key, row.replacesState);
    return before;
  }

  /**
   * The room state before a new event with these `prev_events`: the state after the prev event
   * if they all lead to the same state, else the resolution of their states by the room
   * version's algorithm. Empty for no prev events (the create event). Throws
   * `MissingEventsError` if a prev event is not stored with its state.
   */
  async computeStateBefore(roomId: string, prevEventIds: readonly string[]): Promise<StateMap> {
    const prevs = [...new Set(prevEventIds)];
    if (prevs.length === 0) return new Map();
    const head = this.#heads.get(roomId);
    if (head?.state !== undefined && sameIds(head.extremities, prevs)) return head.state;
    const rows = await this.#db.read((db) => selectEventStates(db, prevs));
    const missing = prevs.filter((id) => !rows.has(id));
    if (missing.length > 0) throw new MissingEventsError('prev_events', missing);
    for (const row of rows.values()) {
      if (row.roomId !== roomId) {
        throw new RoomGraphError(`prev event ${row.eventId} is in ${row.roomId}, not ${roomId}`);
      }
    }
    const groups = [...new Set([...rows.values()].map((row) => row.stateGroup))];
    return this.#stateOfGroups(roomId, groups);
  }

  /** The room's current state: the state resolved across its forward extremities. */
  async currentState(roomId: string): Promise<StateMap> {
    const head = this.#heads.get(roomId);
    if (head?.state !== undefined) return head.state;
    const generation = this.#quietGeneration();
    const extremities = await this.forwardExtremities(roomId);
    const state = await this.computeStateBefore(roomId, extremities);
    if (generation === this.#writeGeneration) this.#heads.set(roomId, { extremities, state });
    return state;
  }

  /**
   * The accepted events no other accepted event follows yet (sorted): the prev_events for a new
   * event.
   */
  async forwardExtremities(roomId: string): Promise<string[]> {
    const head = this.#heads.get(roomId);
    if (head !== undefined) return [...head.extremities];
    const generation = this.#quietGeneration();
    const extremities = (await this.#db.read((db) => selectForwardExtremities(db, roomId))).sort();
    if (generation === this.#writeGeneration) this.#heads.set(roomId, { extremities });
    return [...extremities];
  }

  /**
   * Where the room's stored history could go further back: the prev events, not in the graph,
   * of its oldest events (see `selectBackfillPoints`). Empty for a room whose history is here
   * from its create event on.
   */
  async backfillPoints(roomId: string, limit: number): Promise<string[]> {
    return this.#db.read((db) => selectBackfillPoints(db, roomId, limit));
  }

  /**
   * Reserves `count` stream positions below every event's, for a batch of events of a room's
   * past (`persistEvent` with `backfilledAt`); ascending: the oldest event takes the first.
   */
  async reserveBackfillPositions(count: number): Promise<number[]> {
    if (count === 0) return [];
    return this.#db.transact((trx) => takeBackfillPositions(trx, count));
  }

  /** The write generation if no write is in progress (a read started now may be cached). */
  #quietGeneration(): number | undefined {
    return this.#writesInProgress === 0 ? this.#writeGeneration : undefined;
  }

  /**
   * Checks 4–6 on receipt of a PDU: auth against its own auth events (`authEvents`; read from
   * storage when not given), then against the state before it (`stateBefore`; computed from its
   * prev events when not given), then, for soft failure, against the room's current state.
   * Throws `MissingEventsError` when auth or prev events are not stored.
   */
  async checkEvent(
    event: RoomEvent,
    options: { authEvents?: readonly RoomEvent[]; stateBefore?: StateMap } = {},
  ): Promise<EventCheck> {
    const version = await this.#requireVersion(event.roomId);
    const stateBefore =
      options.stateBefore ?? (await this.computeStateBefore(event.roomId, event.prevEventIds));

    const rejected = await this.#checkAuthEvents(event, version, options.authEvents);
    if (rejected !== undefined) return { rejected, stateBefore };

    const againstBefore = authorizeEvent(
      event,
      await this.#authState(event, version, stateBefore),
      version,
    );
    if (!againstBefore.allowed) return { rejected: rejectionOf(againstBefore), stateBefore };

    const current = await this.currentState(event.roomId);
    if (current === stateBefore || diffStates(current, stateBefore, 0)?.size === 0) {
      return { softFailed: false, stateBefore };
    }
    const againstCurrent = authorizeEvent(
      event,
      await this.#authState(event, version, current),
      version,
    );
    return { softFailed: !againstCurrent.allowed, stateBefore };
  }

  /**
   * Stores an event in one transaction: the event and its edges, the state after it (the state
   * before plus the event itself if it is an accepted state event), and the room's forward
   * extremities (only accepted, not soft-failed, non-outlier events move them). Returns its
   * stream position. Storing an event again is a no-op returning its position, except that an
   * outlier stored again without `outlier` joins the graph and gets a new position.
   */
  async persistEvent(event: RoomEvent, options: PersistEventOptions = {}): Promise<number> {
    const outlier = options.outlier === true;
    await this.#requireVersion(event.roomId);
    // Without the state before it, an event can only be stored again (a no-op): look first.
    // Otherwise the check inside the transaction below is enough.
    if (!outlier && options.stateBefore === undefined) {
      const [existing] = await this.#db.read((db) => selectEventMetadata(db, [event.eventId]));
      if (existing !== undefined && existing.outlier === 0) return existing.stream_ordering;
    }

    let state: PlannedState | undefined;
    if (!outlier) {
      const before = options.stateBefore;
      if (before === undefined) {
        throw new RoomGraphError(`persisting ${event.eventId} needs the state before it`);
      }
      const { after, change, replacesState } = stateChange(event, before, options.rejected);
      state = { after, plan: await this.#planState(event, before, after, change), replacesState };
    }
    const verdict: Verdict = {
      outlier,
      softFailed: options.softFailed === true,
      rejectedReason:
        options.rejected === undefined
          ? null
          : `${options.rejected.rule}: ${options.rejected.reason}`,
      ...(options.backfilledAt === undefined ? {} : { backfilledAt: options.backfilledAt }),
    };

    const write = this.#beginWrite(event.roomId);
    let stored: WrittenEvent;
    try {
      stored = await this.#db.transact(async (trx) => {
        const written = await this.#writeEvent(trx, event, verdict, state);
        await options.withinTransaction?.(trx, written.streamOrdering);
        return written;
      });
    } catch (error) {
      write.end();
      if (error instanceof AlreadyStored) return error.streamOrdering;
      throw error;
    }
    const head = write.head;
    const moved =
      !outlier &&
      verdict.rejectedReason === null &&
      !verdict.softFailed &&
      verdict.backfilledAt === undefined;
    const alone = !write.overlapped();
    write.end(
      head === undefined || !moved ? head : headAfter(head, event, stored.extremity, state?.after),
    );
    this.#committed(event, verdict.rejectedReason, alone);
    // Caches learn only what has been committed, and keep only maps nobody else holds.
    if (state !== undefined && stored.group !== undefined) {
      const { after } = state;
      this.#remember(stored.group, after === options.stateBefore ? new Map(after) : after);
    }
    this.#log?.trace(
      { room_id: event.roomId, event_id: event.eventId, stream_ordering: stored.streamOrdering },
      'event stored',
    );
    return stored.streamOrdering;
  }

  /**
   * Creates a room with its first events, all in one transaction: the room and its version,
   * then each event (built by this server and already checked) after the one before it, the
   * first one with no prev events. Returns their stream positions. `withinTransaction` runs
   * after each event is stored. Throws `RoomGraphError` if the room exists.
   */
  async persistNewRoom(
    roomId: string,
    roomVersion: RoomVersion,
    events: readonly RoomEvent[],
    withinTransaction?: (
      trx: Transaction<Database>,
      streamOrdering: number,
      event: RoomEvent,
    ) => Promise<void>,
  ): Promise<number[]> {
    const [first] = events;
    if (first === undefined || first.prevEventIds.length > 0) {
      throw new RoomGraphError(`a new room starts with an event without prev_events`);
    }
    events.forEach((event, index) => {
      const previous = events[index - 1];
      if (event.roomId !== roomId) {
        throw new RoomGraphError(`event ${event.eventId} is in ${event.roomId}, not ${roomId}`);
      }
      if (previous !== undefined && !sameIds([previous.eventId], event.prevEventIds)) {
        throw new RoomGraphError(`event ${event.eventId} does not follow ${previous.eventId}`);
      }
    });
    const accepted: Verdict = { outlier: false, softFailed: false, rejectedReason: null };

    const write = this.#beginWrite(roomId);
    let stored: Array<{ written: WrittenEvent; after: StateMap }>;
    try {
      stored = await this.#db.transact(async (trx) => {
        if ((await selectRoomVersion(trx, roomId)) !== undefined) {
          throw new RoomGraphError(`room ${roomId} exists already`);
        }
        await insertRoom(trx, roomId, roomVersion.id);
        const results: Array<{ written: WrittenEvent; after: StateMap }> = [];
        // The state before each event is the state after the one before it, in a group this
        // transaction just wrote: each new group is planned against it.
        let before: CachedGroup | undefined;
        for (const event of events) {
          const { after, change, replacesState } = stateChange(
            event,
            before?.state ?? new Map(),
            undefined,
          );
          const plan = planStateGroup(
            after,
            before === undefined ? [] : [{ ...before, delta: change }],
          );
          const written = await this.#writeEvent(trx, event, accepted, {
            after,
            plan,
            replacesState,
          });
          await withinTransaction?.(trx, written.streamOrdering, event);
          results.push({ written, after });
          const info = written.group ?? before?.info;
          if (info !== undefined) before = { info, state: after };
        }
        return results;
      });
    } catch (error) {
      write.end();
      throw error;
    }
    const last = events[events.length - 1] as RoomEvent;
    const lastAfter = (stored[stored.length - 1] as { after: StateMap }).after;
    const alone = !write.overlapped();
    write.end({ extremities: [last.eventId], state: lastAfter });
    this.#versions.set(roomId, roomVersion);
    events.forEach((event, index) => {
      const { written, after } = stored[index] as { written: WrittenEvent; after: StateMap };
      this.#committed(event, null, alone);
      if (written.group !== undefined) this.#remember(written.group, after);
    });
    return stored.map(({ written }) => written.streamOrdering);
  }

  /**
   * Marks the start of an event write in `roomId` (see #writeGeneration): the room's cached
   * head is taken out, and handed back (moved past the new events) by `end` if no other write
   * overlapped this one.
   */
  #beginWrite(roomId: string): {
    readonly head: RoomHead | undefined;
    /** Whether another write started or ended since this one started. */
    overlapped(): boolean;
    end(head?: RoomHead): void;
  } {
    const head = this.#heads.peek(roomId);
    this.#heads.delete(roomId);
    this.#writesInProgress += 1;
    const generation = ++this.#writeGeneration;
    const overlapped = () => generation !== this.#writeGeneration;
    let ended = false;
    return {
      head,
      overlapped,
      end: (newHead) => {
        if (ended) return;
        ended = true;
        if (newHead !== undefined && !overlapped()) this.#heads.set(roomId, newHead);
        this.#writesInProgress -= 1;
        this.#writeGeneration += 1;
      },
    };
  }

  /**
   * What the caches learn once an event is committed. `alone`: no other write overlapped this
   * one (one that did may have changed the verdict: an outlier joining the graph).
   */
  #committed(event: RoomEvent, rejectedReason: string | null, alone: boolean): void {
    this.#events.set(event.eventId, event);
    if (alone) this.#verdicts.set(event.eventId, rejectedReason);
    else this.#verdicts.delete(event.eventId);
  }

  /**
   * Writes an event in `trx`: its row and edges (or an outlier's promotion), the state group
   * after it, and the forward extremities. Throws `AlreadyStored` if it is stored already.
   */
  async #writeEvent(
    trx: Transaction<Database>,
    event: RoomEvent,
    verdict: Verdict,
    state: PlannedState | undefined,
  ): Promise<WrittenEvent> {
    const { outlier, softFailed, rejectedReason, backfilledAt } = verdict;
    // Taken first: it serialises event writers, so the check below cannot race another. (Events
    // of the past come with a position reserved for them; the event's unique ID and position
    // keep their writers apart.)
    const streamOrdering = backfilledAt ?? (await nextSequenceValue(trx, 'stream_ordering'));
    const inserted = await insertEvent(
      trx,
      {
        event_id: event.eventId,
        room_id: event.roomId,
        type: event.type,
        state_key: event.stateKey ?? null,
        sender: event.sender,
        depth: event.depth,
        origin_server_ts: event.originServerTs,
        stream_ordering: streamOrdering,
        outlier: outlier ? 1 : 0,
        soft_failed: softFailed ? 1 : 0,
        rejected_reason: rejectedReason,
        pdu: JSON.stringify(event.pdu),
      },
      event.prevEventIds,
      event.authEventIds,
    );
    if (!inserted) {
      const [current] = await selectEventMetadata(trx, [event.eventId]);
      if (current === undefined) throw new RoomGraphError(`${event.eventId} vanished`);
      if (!(current.outlier === 1 && !outlier)) throw new AlreadyStored(current.stream_ordering);
      await updateOutlierToEvent(trx, event.eventId, {
        stream_ordering: streamOrdering,
        soft_failed: softFailed ? 1 : 0,
        rejected_reason: rejectedReason,
      });
    }
    let group: StateGroupInfo | undefined;
    if (state !== undefined) {
      const { plan } = state;
      let stateGroup: number;
      if (plan.kind === 'existing') {
        stateGroup = plan.stateGroup;
      } else {
        group = await insertStateGroup(trx, event.roomId, plan);
        stateGroup = group.stateGroup;
      }
      await insertEventStateGroup(trx, {
        eventId: event.eventId,
        stateGroup,
        replacesState: state.replacesState,
      });
    }
    let extremity = false;
    if (!outlier && rejectedReason === null && !softFailed && backfilledAt === undefined) {
      extremity = await advanceForwardExtremities(
        trx,
        event.roomId,
        event.eventId,
        event.prevEventIds,
      );
    }
    return { streamOrdering, group, extremity };
  }

  /** The auth chain of the events: every stored event reachable through `auth_events`. */
  authChain(eventIds: Iterable<string>): Promise<Set<string>> {
    return collectAuthChain(eventIds, (ids) => this.getEvents(ids), {
      fetchAuthEventIds: (ids) => this.#authEventIds(ids),
    });
  }

  /** The auth chain difference of the states (state resolution v2). */
  authChainDifference(stateSets: readonly StateMap[]): Promise<Set<string>> {
    return computeAuthChainDifference(stateSets, (ids) => this.getEvents(ids), {
      fetchAuthEventIds: (ids) => this.#authEventIds(ids),
    });
  }

  /**
   * The auth event IDs of the stored events among `ids` (the `fetchAuthEventIds` of state
   * resolution): from the events in memory, else from the auth edges, without reading PDUs.
   */
  async #authEventIds(ids: readonly string[]): Promise<Map<string, readonly string[]>> {
    const cached = new Map<string, readonly string[]>();
    const wanted: string[] = [];
    for (const id of ids) {
      const event = this.#events.peek(id);
      if (event !== undefined) cached.set(id, event.authEventIds);
      else wanted.push(id);
    }
    if (wanted.length === 0) return cached;
    const found: Map<string, readonly string[]> = await this.#db.read((db) =>
      selectAuthEventIds(db, wanted),
    );
    for (const [id, authIds] of cached) found.set(id, authIds);
    return found;
  }

  async #requireVersion(roomId: string): Promise<RoomVersion> {
    const version = await this.roomVersionOf(roomId);
    if (version === undefined) throw new RoomGraphError(`room ${roomId} is not known`);
    return version;
  }

  /** A state group's info and full state, from the cache or the database. */
  async #group(stateGroup: number): Promise<CachedGroup> {
    const cached = this.#groups.get(stateGroup);
    if (cached !== undefined) return cached;
    const loaded = await this.#db.read((db) =>
      loadStateGroup(db, stateGroup, (group) => this.#groups.get(group)?.state),
    );
    if (loaded === undefined) throw new RoomGraphError(`state group ${stateGroup} is missing`);
    return this.#remember(loaded.info, loaded.state);
  }

  #remember(info: StateGroupInfo, state: StateMap): CachedGroup {
    const entry = { info, state };
    this.#groups.set(info.stateGroup, entry);
    this.#groupOfState.set(state, info.stateGroup);
    return entry;
  }

  /** The state after events in these groups: one group's state, or their resolution. */
  async #stateOfGroups(roomId: string, groups: readonly number[]): Promise<StateMap> {
    const sorted = [...groups].sort((a, b) => a - b);
    if (sorted.length === 1) return (await this.#group(sorted[0] as number)).state;
    const cacheKey = sorted.join(',');
    const cached = this.#resolved.get(cacheKey);
    if (cached !== undefined) return cached;

    const states: StateMap[] = [];
    for (const group of sorted) states.push((await this.#group(group)).state);
    const [first] = states as [StateMap, ...StateMap[]];
    let resolved: StateMap;
    if (states.every((state) => diffStates(first, state, 0)?.size === 0)) {
      resolved = first;
    } else {
      const version = await this.#requireVersion(roomId);
      const started = performance.now();
      // Auth chains are walked over the auth edges table: only the few hundred events the
      // algorithm reads are fetched and parsed, not the thousands of the states' auth chains.
      resolved = await resolveState(version, states, (ids) => this.getEvents(ids), {
        fetchAuthEventIds: (ids) => this.#authEventIds(ids),
      });
      this.#log?.debug(
        {
          room_id: roomId,
          state_groups: sorted,
          duration_ms: Math.round(performance.now() - started),
        },
        'resolved state',
      );
    }
    this.#resolved.set(cacheKey, resolved);
    return resolved;
  }

  /**
   * How to store the state after an event: against the state before it when that is a group's
   * state (the usual case: a delta of one entry, or no new group at all), else against the
   * groups of its prev events.
   */
  async #planState(
    event: RoomEvent,
    before: StateMap,
    after: StateMap,
    change: ReadonlyMap<StateKey, string>,
  ): Promise<StateGroupPlan> {
    const beforeGroup = this.#groupOfState.get(before);
    if (beforeGroup !== undefined) {
      const base = await this.#groupInfo(beforeGroup, before);
      const plan = planStateGroup(after, [{ ...base, delta: change }]);
      if (plan.kind !== 'snapshot') return plan;
    }
    const rows = await this.#db.read((db) => selectEventStates(db, event.prevEventIds));
    const candidates: CachedGroup[] = [];
    for (const group of new Set([...rows.values()].map((row) => row.stateGroup))) {
      if (group !== beforeGroup) candidates.push(await this.#group(group));
    }
    return planStateGroup(after, candidates);
  }

  /** A group whose state is known; its info from the cache or the database. */
  async #groupInfo(stateGroup: number, state: StateMap): Promise<CachedGroup> {
    const cached = this.#groups.get(stateGroup);
    if (cached !== undefined) return cached;
    const info = await this.#db.read((db) => selectStateGroupInfo(db, stateGroup));
    if (info === undefined) throw new RoomGraphError(`state group ${stateGroup} is missing`);
    return this.#remember(info, state);
  }

  /** Auth rules on the auth_events list, then auth against the auth events themselves. */
  async #checkAuthEvents(
    event: RoomEvent,
    version: RoomVersion,
    given: readonly RoomEvent[] | undefined,
  ): Promise<Rejection | undefined> {
    let authEvents = given;
    if (authEvents === undefined) {
      const found = await this.getEvents(event.authEventIds);
      const missing = event.authEventIds.filter((id) => !found.has(id));
      if (missing.length > 0) throw new MissingEventsError('auth_events', missing);
      authEvents = event.authEventIds.map((id) => found.get(id) as RoomEvent);
    }
    // v12: the create event is not among the auth events; the room ID names it.
    const impliedCreateId =
      version.roomIdFromCreateEvent && event.type !== 'm.room.create'
        ? `$${event.roomId.slice(1)}`
        : undefined;
    const ids = authEvents.map((authEvent) => authEvent.eventId);
    const verdicts = await this.#verdictsOf(
      impliedCreateId === undefined ? ids : [...ids, impliedCreateId],
    );
    const isRejected = (id: string) => typeof verdicts.get(id) === 'string';

    const listCheck = checkAuthEventsList(event, authEvents, version, isRejected);
    if (!listCheck.allowed) return rejectionOf(listCheck);

    const state = buildAuthState(authEvents);
    if (impliedCreateId !== undefined && !isRejected(impliedCreateId)) {
      const create = await this.getEvent(impliedCreateId);
      if (create !== undefined) state.set(CREATE_KEY, create);
    }
    const result = authorizeEvent(event, state, version);
    return result.allowed ? undefined : rejectionOf(result);
  }

  /** The rejection reasons (null: accepted) of the stored events among `ids`. */
  async #verdictsOf(ids: readonly string[]): Promise<Map<string, string | null>> {
    const verdicts = new Map<string, string | null>();
    const wanted: string[] = [];
    for (const id of ids) {
      const verdict = this.#verdicts.get(id);
      if (verdict !== undefined) verdicts.set(id, verdict);
      else wanted.push(id);
    }
    if (wanted.length === 0) return verdicts;
    const generation = this.#quietGeneration();
    const rows = await this.#db.read((db) => selectEventMetadata(db, wanted));
    for (const row of rows) {
      verdicts.set(row.event_id, row.rejected_reason);
      if (generation === this.#writeGeneration)
        this.#verdicts.set(row.event_id, row.rejected_reason);
    }
    return verdicts;
  }

  /** The part of `state` the auth rules read for `event`, as events. */
  async #authState(event: RoomEvent, version: RoomVersion, state: StateMap): Promise<AuthState> {
    const keys: StateKey[] = [CREATE_KEY, ...authEventKeysFor(event, version)];
    const ids = keys.map((key) => state.get(key)).filter((id) => id !== undefined);
    return buildAuthState((await this.getEvents(ids)).values());
  }
}

/**
 * The state after an event: the state before it, plus the event at its key if it is an accepted
 * state event (`change` holds that one entry).
 */
function stateChange(
  event: RoomEvent,
  before: StateMap,
  rejected: Rejection | undefined,
): { after: StateMap; change: Map<StateKey, string>; replacesState: string | null } {
  const change = new Map<StateKey, string>();
  if (rejected !== undefined || event.stateKey === undefined) {
    return { after: before, change, replacesState: null };
  }
  const key = stateKeyOf(event.type, event.stateKey);
  const replacesState = before.get(key) ?? null;
  if (replacesState === event.eventId) return { after: before, change, replacesState };
  change.set(key, event.eventId);
  return { after: new Map(before).set(key, event.eventId), change, replacesState };
}

/**
 * A room's head after an accepted event joined the graph: its prev events stop being
 * extremities and it becomes one (unless a stored event already follows it). The state is
 * known when the event is then the only extremity: the state after it.
 */
function headAfter(
  head: RoomHead,
  event: RoomEvent,
  becameExtremity: boolean,
  stateAfter: StateMap | undefined,
): RoomHead {
  const prevs = new Set(event.prevEventIds);
  const extremities = head.extremities.filter((id) => !prevs.has(id));
  if (becameExtremity) extremities.push(event.eventId);
  extremities.sort();
  const onlyThis = extremities.length === 1 && extremities[0] === event.eventId;
  return onlyThis && stateAfter !== undefined
    ? { extremities, state: stateAfter }
    : { extremities };
}

/** Whether two lists hold the same IDs (`sorted` is sorted, `ids` has no duplicates). */
function sameIds(sorted: readonly string[], ids: readonly string[]): boolean {
  if (sorted.length !== ids.length) return false;
  if (ids.length === 1) return sorted[0] === ids[0];
  const other = [...ids].sort();
  return sorted.every((id, index) => id === other[index]);
}

function rejectionOf(result: { rule: string; reason: string }): Rejection {
  return { rule: result.rule, reason: result.reason };
}

function toStatus(row: EventMetadataRow): EventStatus {
  return {
    eventId: row.event_id,
    roomId: row.room_id,
    streamOrdering: row.stream_ordering,
    outlier: row.outlier === 1,
    softFailed: row.soft_failed === 1,
    rejectedReason: row.rejected_reason ?? undefined,
  };
}
