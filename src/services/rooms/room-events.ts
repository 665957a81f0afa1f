/**
 * Sending this server's own events into its rooms: the one path every local event takes.
 *
 * For each room, one send at a time (a lock owned by this instance): the new event's
 * `prev_events` are the room's forward extremities (at most 10), its depth one more than theirs,
 * its `auth_events` picked from the state before it, then it is built, hashed, signed, checked
 * with the auth rules and stored. A locally built event the rules refuse is never stored: the
 * caller gets 403 M_FORBIDDEN naming the rule. Bookkeeping that belongs to the event (current
 * memberships, redactions, transaction IDs, the caller's own writes) is written in the
 * transaction that stores it, with the writes other services attach to every event this server
 * builds (`addLocalEventWrite`: federation queues it for the other servers of the room). Once
 * committed, `persisted` announces it.
 */

import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonValue } from '../../core/canonical-json.js';
import { forbidden, notFound } from '../../core/errors.js';
import { authEventKeysFor } from '../../protocol/auth/auth-events-selection.js';
import type { RoomEvent, StateMap } from '../../protocol/room-event.js';
import type { RoomVersion } from '../../protocol/room-versions.js';
import type { SigningKey } from '../../protocol/signing-key.js';
import { deleteForgottenRoom } from '../../storage/rooms/forgotten-rooms.js';
import { upsertMembership } from '../../storage/rooms/memberships.js';
import { insertRedaction } from '../../storage/rooms/redactions.js';
import { insertTxnId, selectTxnEventId } from '../../storage/rooms/txn-ids.js';
import type { TxnKey } from '../../storage/rooms/txn-ids.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { Listeners } from '../listeners.js';
import type { EventCheck, PersistEventOptions, RoomGraph } from '../room-graph/room-graph.js';
import { buildEvent } from './event-builder.js';
import type { EventDraft } from './event-builder.js';
import { KeyedLock } from './keyed-lock.js';
import { StateView } from './state-view.js';

/** At most this many forward extremities become a new event's `prev_events`. */
export const MAX_PREV_EVENTS = 10;

/** A committed event, as announced to `RoomEvents.persisted` listeners. */
export interface PersistedEvent {
  readonly roomId: string;
  readonly eventId: string;
  readonly streamOrdering: number;
  readonly type: string;
  readonly stateKey: string | undefined;
  readonly sender: string;
  /** `content.membership` of an `m.room.member` event. */
  readonly membership?: string;
  /** Built by this server under the room's lock (its local event writes ran), not received. */
  readonly builtHere: boolean;
}

/** Writes that belong with an event, run in the transaction that stores it. */
export type WithinTransaction = (
  trx: Transaction<Database>,
  streamOrdering: number,
  event: RoomEvent,
) => Promise<void>;

export interface SendOptions {
  /** The client's transaction ID: a second send with the same key returns the first event. */
  readonly txn?: TxnKey;
  readonly withinTransaction?: WithinTransaction;
}

/** What a draft maker returns when no new event is needed (e.g. already joined, same profile). */
export interface NoNewEvent {
  readonly existingEventId: string;
}

/**
 * A write another service attaches to every event this server builds, in the transaction that
 * stores it; what it returns runs once that transaction committed (before `persisted`).
 */
export type LocalEventWrite = (
  trx: Transaction<Database>,
  event: RoomEvent,
  streamOrdering: number,
) => Promise<(() => void) | undefined>;

/** Makes the draft from the state before the new event (read inside the room's lock). */
export type DraftMaker = (state: StateView) => Promise<EventDraft | NoNewEvent>;

export interface SentEvent {
  readonly eventId: string;
  /** False when an earlier event was returned (same transaction ID, or nothing to change). */
  readonly created: boolean;
  readonly event?: RoomEvent;
  readonly streamOrdering?: number;
}

/** Stores an event built inside `withRoomLock`, with the state before it. */
export type PersistLocal = (
  event: RoomEvent,
  stateBefore: StateMap,
  withinTransaction?: WithinTransaction,
) => Promise<number>;

/**
 * Stores a new room and its first events (built inside `withRoomLock`) in one transaction;
 * `withinTransaction` runs after each event.
 */
export type PersistNewRoom = (
  version: RoomVersion,
  events: readonly RoomEvent[],
  withinTransaction?: WithinTransaction,
) => Promise<number[]>;

/** Thrown inside the storing transaction when another request took the transaction ID first. */
class TxnIdTaken extends Error {
  constructor(readonly eventId: string) {
    super('transaction ID already used');
  }
}

export interface RoomEventsDeps {
  db: TenantDatabase;
  graph: RoomGraph;
  clock: Clock;
  serverName: string;
  signingKey: SigningKey;
  logger: Logger;
}

export class RoomEvents {
  /** Committed events, in commit order per room; listeners read `streamOrdering` for order. */
  readonly persisted: Listeners<PersistedEvent>;
  readonly #lock = new KeyedLock();
  readonly #localWrites = new Set<LocalEventWrite>();
  readonly #db: TenantDatabase;
  readonly #graph: RoomGraph;
  readonly #clock: Clock;
  readonly #serverName: string;
  readonly #signingKey: SigningKey;
  readonly #logger: Logger;

  constructor(deps: RoomEventsDeps) {
    this.#db = deps.db;
    this.#graph = deps.graph;
    this.#clock = deps.clock;
    this.#serverName = deps.serverName;
    this.#signingKey = deps.signingKey;
    this.#logger = deps.logger;
    this.persisted = new Listeners(deps.logger, 'event persisted');
  }

  /** Attaches `write` to every event this server builds from now on; returns the detach. */
  addLocalEventWrite(write: LocalEventWrite): () => void {
    this.#localWrites.add(write);
    return () => this.#localWrites.delete(write);
  }

  /** The room's version; 404 M_NOT_FOUND for a room this server does not have. */
  async requireRoomVersion(roomId: string): Promise<RoomVersion> {
    const version = await this.#graph.roomVersionOf(roomId);
    if (version === undefined) throw notFound(`Room ${roomId} not found`);
    return version;
  }

  /**
   * Sends one event from a local user into an existing room (see the module comment). `draft`
   * may be a function of the state before the event, to decide its content (or that no event
   * is needed) under the room's lock.
   */
  async send(
    roomId: string,
    draft: EventDraft | DraftMaker,
    options: SendOptions = {},
  ): Promise<SentEvent> {
    return this.withRoomLock(roomId, async (persist) => {
      try {
        return await this.#sendLocked(roomId, draft, options, persist);
      } catch (error) {
        if (error instanceof TxnIdTaken) return { eventId: error.eventId, created: false };
        // A retry answers as the first attempt did, even if the event would not be allowed
        // now. Looked up only on failure: a first attempt (the usual case) reads nothing.
        const key = options.txn;
        if (key !== undefined) {
          const existing = await this.#db.read((db) => selectTxnEventId(db, key));
          if (existing !== undefined) return { eventId: existing, created: false };
        }
        throw error;
      }
    });
  }

  async #sendLocked(
    roomId: string,
    draft: EventDraft | DraftMaker,
    options: SendOptions,
    persist: PersistLocal,
  ): Promise<SentEvent> {
    const version = await this.requireRoomVersion(roomId);
    const prevEvents = await this.#prevEvents(roomId);
    const stateBefore = await this.#graph.computeStateBefore(
      roomId,
      prevEvents.map((event) => event.eventId),
    );
    const made =
      typeof draft === 'function'
        ? await draft(new StateView(roomId, version, stateBefore, this.#graph))
        : draft;
    if ('existingEventId' in made) return { eventId: made.existingEventId, created: false };

    const authEvents = await this.authEventsFor(made, version, stateBefore);
    const event = this.build(made, version, roomId, prevEvents, authEvents);
    const check = await this.#graph.checkEvent(event, { authEvents, stateBefore });
    if (check.rejected !== undefined) throw forbidden(check.rejected.reason);
    if (check.softFailed === true) {
      throw forbidden('The event is not allowed by the current state of the room');
    }
    const txn = options.txn;
    // A retry with the same transaction ID finds it recorded here, in the storing transaction,
    // which then rolls back (TxnIdTaken).
    const streamOrdering = await persist(event, check.stateBefore, async (trx, position) => {
      if (txn !== undefined) {
        const recorded = await insertTxnId(trx, txn, roomId, event.eventId);
        if (recorded !== event.eventId) throw new TxnIdTaken(recorded);
      }
      await options.withinTransaction?.(trx, position, event);
    });
    return { eventId: event.eventId, created: true, event, streamOrdering };
  }

  /**
   * Runs `fn` holding the room's lock, with functions that store events built by this server
   * (with their bookkeeping); announces them once the lock is released. Room creation uses
   * `persistNewRoom` to store the first events of a room it validated beforehand.
   */
  async withRoomLock<T>(
    roomId: string,
    fn: (persist: PersistLocal, persistNewRoom: PersistNewRoom) => Promise<T>,
  ): Promise<T> {
    const stored: PersistedEvent[] = [];
    const committed: (() => void)[] = [];
    // What each event's local writes return, by event ID (a retried transaction overwrites it).
    const afterCommit = new Map<string, (() => void)[]>();
    const writeWithEvent = async (
      trx: Transaction<Database>,
      position: number,
      event: RoomEvent,
      withinTransaction: WithinTransaction | undefined,
    ) => {
      await recordEvent(trx, event, position);
      const callbacks: (() => void)[] = [];
      for (const write of this.#localWrites) {
        const callback = await write(trx, event, position);
        if (callback !== undefined) callbacks.push(callback);
      }
      afterCommit.set(event.eventId, callbacks);
      await withinTransaction?.(trx, position, event);
    };
    const persist: PersistLocal = async (event, stateBefore, withinTransaction) => {
      const streamOrdering = await this.#graph.persistEvent(event, {
        stateBefore,
        withinTransaction: (trx, position) =>
          writeWithEvent(trx, position, event, withinTransaction),
      });
      committed.push(...(afterCommit.get(event.eventId) ?? []));
      stored.push(announcementOf(event, streamOrdering, true));
      return streamOrdering;
    };
    const persistNewRoom: PersistNewRoom = async (version, events, withinTransaction) => {
      const positions = await this.#graph.persistNewRoom(
        roomId,
        version,
        events,
        (trx, position, event) => writeWithEvent(trx, position, event, withinTransaction),
      );
      events.forEach((event, index) => {
        committed.push(...(afterCommit.get(event.eventId) ?? []));
        stored.push(announcementOf(event, positions[index] as number, true));
      });
      return positions;
    };
    try {
      return await this.#lock.run(roomId, () => fn(persist, persistNewRoom));
    } finally {
      for (const callback of committed) this.#runAfterCommit(callback);
      // Listeners run outside the lock: one that sends into the same room must not deadlock.
      for (const event of stored) await this.persisted.emit(event);
    }
  }

  #runAfterCommit(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#logger.error({ err: error }, 'after-commit work of an event failed');
    }
  }

  /**
   * Stores an event received from another server (checked already: see `RoomGraph.checkEvent`)
   * under the room's lock, so that it and local sends are ordered. An accepted event gets the
   * same bookkeeping as a local one (memberships, redactions) and is announced on `persisted`
   * (syncs wake); a rejected, soft-failed or outlier event is only stored. Returns its stream
   * position. Not to be called inside `withRoomLock` of the same room.
   */
  async persistReceived(event: RoomEvent, options: PersistEventOptions): Promise<number> {
    const accepted =
      options.rejected === undefined && options.softFailed !== true && options.outlier !== true;
    let written = false;
    const streamOrdering = await this.#lock.run(event.roomId, () =>
      this.#graph.persistEvent(event, {
        ...options,
        withinTransaction: async (trx, position) => {
          written = true;
          if (accepted) await recordEvent(trx, event, position);
          await options.withinTransaction?.(trx, position);
        },
      }),
    );
    // An event stored before (a retried transaction) is not announced again.
    if (accepted && written) {
      await this.persisted.emit(announcementOf(event, streamOrdering, false));
    }
    return streamOrdering;
  }

  /**
   * Builds and signs an event of this server at the given place in the room, timestamped now
   * (plus `tsOffset` milliseconds: room creation moves a create event that would collide).
   */
  build(
    draft: EventDraft,
    version: RoomVersion,
    roomId: string | undefined,
    prevEvents: readonly RoomEvent[],
    authEvents: readonly RoomEvent[],
    tsOffset = 0,
  ): RoomEvent {
    return buildEvent(draft, {
      version,
      roomId,
      prevEvents,
      authEvents,
      originServerTs: this.#clock.now() + tsOffset,
      serverName: this.#serverName,
      signingKey: this.#signingKey,
    });
  }

  /** The events of `state` that auth events selection picks for the draft. */
  async authEventsFor(
    draft: EventDraft,
    version: RoomVersion,
    state: StateMap,
  ): Promise<RoomEvent[]> {
    const ids = authEventKeysFor({ ...draft, stateKey: draft.stateKey }, version)
      .map((key) => state.get(key))
      .filter((id) => id !== undefined);
    const events = await this.#graph.getEvents(ids);
    return ids.map((id) => events.get(id)).filter((event) => event !== undefined);
  }

  /**
   * Builds and checks an event at the room's current extremities as `send` would, without
   * storing it (federated membership: an invite the invitee's server must co-sign first, and
   * the templates of make_join/make_leave/make_knock). Not under the room's lock: the caller
   * stores the event, if at all, as a received one.
   */
  async prepare(
    roomId: string,
    draft: EventDraft,
  ): Promise<{ event: RoomEvent; version: RoomVersion; check: EventCheck }> {
    const version = await this.requireRoomVersion(roomId);
    const prevEvents = await this.#prevEvents(roomId);
    const stateBefore = await this.#graph.computeStateBefore(
      roomId,
      prevEvents.map((event) => event.eventId),
    );
    const authEvents = await this.authEventsFor(draft, version, stateBefore);
    const event = this.build(draft, version, roomId, prevEvents, authEvents);
    const check = await this.#graph.checkEvent(event, { authEvents, stateBefore });
    return { event, version, check };
  }

  /** The deepest forward extremities (at most 10); 404 for a room without events. */
  async #prevEvents(roomId: string): Promise<RoomEvent[]> {
    const ids = await this.#graph.forwardExtremities(roomId);
    if (ids.length === 0) throw notFound(`Room ${roomId} not found`);
    const events = [...(await this.#graph.getEvents(ids)).values()];
    events.sort((a, b) => b.depth - a.depth || (a.eventId < b.eventId ? -1 : 1));
    return events.slice(0, MAX_PREV_EVENTS);
  }
}

/** Bookkeeping of every accepted local event, in its storing transaction. */
async function recordEvent(
  trx: Transaction<Database>,
  event: RoomEvent,
  streamOrdering: number,
): Promise<void> {
  if (event.type === 'm.room.member' && event.stateKey !== undefined) {
    const membership = event.content.membership;
    if (typeof membership !== 'string') return;
    await upsertMembership(trx, {
      roomId: event.roomId,
      userId: event.stateKey,
      membership,
      eventId: event.eventId,
      streamOrdering,
      sender: event.sender,
      displayname: stringOrNull(event.content.displayname),
      avatarUrl: stringOrNull(event.content.avatar_url),
    });
    // Any new membership makes a forgotten room part of the user's rooms again.
    await deleteForgottenRoom(trx, event.stateKey, event.roomId);
  } else if (event.type === 'm.room.redaction' && event.redacts !== undefined) {
    await insertRedaction(trx, event.eventId, event.redacts, event.roomId);
  }
}

function announcementOf(
  event: RoomEvent,
  streamOrdering: number,
  builtHere: boolean,
): PersistedEvent {
  const membership = event.type === 'm.room.member' ? event.content.membership : undefined;
  return {
    roomId: event.roomId,
    eventId: event.eventId,
    streamOrdering,
    type: event.type,
    stateKey: event.stateKey,
    sender: event.sender,
    builtHere,
    ...(typeof membership === 'string' ? { membership } : {}),
  };
}

function stringOrNull(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}
