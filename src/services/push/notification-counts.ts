/**
 * The `unread_notifications` of a joined room in `/sync`: how many of the room's events after
 * the user's read receipt notify them, and how many of those highlight, by their push rules
 * (spec "Receiving notifications", "Marking notifications as read").
 *
 * Counted: timeline events of others after the later of the user's latest read receipt (`m.read`
 * or `m.read.private`, unthreaded or `main`) and their latest join, evaluated with the room's
 * current joined member count, the user's display name in the room and the room's power levels.
 *
 * Incremental syncs must stay cheap, so each instance keeps a bounded memo per (user, room):
 * the read position, the position counted up to, the counts, the rules and the room context
 * they were computed with. A sync after one new message evaluates that message only. A memo is
 * recomputed from scratch ("cold") when the read receipt moves, the rules change, the user
 * joins again or the memo was evicted; a cold count evaluates at most the last
 * `maxEventsPerCount` events (default 1000) after the receipt, so a room with more unread events
 * than that reports the notifications among the latest 1000 only. The room context is read again
 * when new events include a state event (a join, a power levels or display name change).
 */
import { CREATE_KEY, POWER_LEVELS_KEY } from '../../protocol/auth/auth-state.js';
import { PowerLevels } from '../../protocol/auth/power-levels.js';
import {
  selectEventsToCount,
  selectReadPosition,
  type CountableEvent,
} from '../../storage/push/unread-events.js';
import { countJoinedMembers, selectMembership } from '../../storage/rooms/memberships.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { LruCache } from '../room-graph/lru-cache.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import type { PushContext, PushEvent, PushPowerLevels } from './push-rule-evaluator.js';
import type { CompiledPushRules, PushRules } from './push-rules.js';

export interface UnreadCounts {
  readonly notifications: number;
  readonly highlights: number;
}

/** Stream positions a sync computes up to: events and receipts. */
export interface CountPositions {
  readonly events: number;
  readonly receipts: number;
}

export interface NotificationCountsDeps {
  readonly db: TenantDatabase;
  readonly roomGraph: Pick<RoomGraph, 'currentState' | 'getEvents' | 'roomVersionOf'>;
  readonly pushRules: Pick<PushRules, 'compiled'>;
}

export interface NotificationCountsOptions {
  /** (user, room) memos kept per instance (default 10,000). */
  memoSize?: number;
  /** Events a count evaluates at most (default 1000). */
  maxEventsPerCount?: number;
}

const DEFAULT_MEMO_SIZE = 10_000;
const DEFAULT_MAX_EVENTS_PER_COUNT = 1000;
const ZERO: UnreadCounts = { notifications: 0, highlights: 0 };
/** A room whose version is unknown: nobody may `@room`. */
const NO_POWER: PushPowerLevels = {
  userLevel: () => 0,
  notificationLevel: () => Number.POSITIVE_INFINITY,
};

interface RoomContext {
  readonly memberCount: number;
  readonly displayName: string | null;
  readonly powerLevels: PushPowerLevels;
  /** Stream position of the user's latest join (0 if unknown): nothing before it counts. */
  readonly joinedAt: number;
}

interface Memo {
  /** Stream position of the event the user's latest receipt is at (0 without one). */
  readonly readPosition: number;
  /** The receipts stream position `readPosition` is known to be current at. */
  readonly receiptsPosition: number;
  /** Events up to this stream position are counted. */
  readonly countedUpTo: number;
  readonly counts: UnreadCounts;
  readonly fingerprint: string;
  readonly context: RoomContext;
}

export class NotificationCounts {
  readonly #memo: LruCache<string, Memo>;
  readonly #maxEvents: number;
  #evaluated = 0;

  constructor(
    private readonly deps: NotificationCountsDeps,
    options: NotificationCountsOptions = {},
  ) {
    this.#memo = new LruCache(options.memoSize ?? DEFAULT_MEMO_SIZE);
    this.#maxEvents = options.maxEventsPerCount ?? DEFAULT_MAX_EVENTS_PER_COUNT;
  }

  /** Events evaluated by this instance so far (how tests and metrics see the memo work). */
  get eventsEvaluated(): number {
    return this.#evaluated;
  }

  /** The user's counts in a joined room, up to the given stream positions. */
  async countsFor(userId: string, roomId: string, at: CountPositions): Promise<UnreadCounts> {
    const key = `${userId} ${roomId}`;
    const rules = await this.deps.pushRules.compiled(userId);
    let memo = this.#memo.get(key);
    if (memo !== undefined && memo.fingerprint !== rules.fingerprint) memo = undefined;
    let readPosition: number | undefined;
    if (memo !== undefined && memo.receiptsPosition !== at.receipts) {
      readPosition = await this.#readPosition(userId, roomId);
      memo =
        readPosition === memo.readPosition ? { ...memo, receiptsPosition: at.receipts } : undefined;
    }
    if (memo !== undefined && memo.countedUpTo < at.events) {
      memo = await this.#countNew(userId, roomId, at, rules, memo);
    }
    // A concurrent sync may have counted further than `at`: its counts are the newer ones.
    memo ??= await this.#countFromScratch(userId, roomId, at, rules, readPosition);
    this.#memo.set(key, memo);
    return memo.counts;
  }

  /** Adds the events after the memo's position; undefined when the memo no longer applies. */
  async #countNew(
    userId: string,
    roomId: string,
    at: CountPositions,
    rules: CompiledPushRules,
    memo: Memo,
  ): Promise<Memo | undefined> {
    const events = await this.deps.db.read((db) =>
      selectEventsToCount(db, roomId, memo.countedUpTo, at.events, this.#maxEvents),
    );
    let context = memo.context;
    if (events.some((event) => event.stateKey !== null)) {
      context = await this.#roomContext(userId, roomId);
      // Joined again: what happened while away must not count.
      if (context.joinedAt !== memo.context.joinedAt) return undefined;
    }
    const added = this.#evaluate(userId, events, rules, context);
    return {
      ...memo,
      context,
      countedUpTo: at.events,
      counts: {
        notifications: memo.counts.notifications + added.notifications,
        highlights: memo.counts.highlights + added.highlights,
      },
    };
  }

  async #countFromScratch(
    userId: string,
    roomId: string,
    at: CountPositions,
    rules: CompiledPushRules,
    knownReadPosition: number | undefined,
  ): Promise<Memo> {
    const readPosition = knownReadPosition ?? (await this.#readPosition(userId, roomId));
    const context = await this.#roomContext(userId, roomId);
    const after = Math.max(readPosition, context.joinedAt);
    const events = await this.deps.db.read((db) =>
      selectEventsToCount(db, roomId, after, at.events, this.#maxEvents),
    );
    return {
      readPosition,
      receiptsPosition: at.receipts,
      // A receipt may be ahead of `at`: what it covers is read already.
      countedUpTo: Math.max(after, at.events),
      counts: this.#evaluate(userId, events, rules, context),
      fingerprint: rules.fingerprint,
      context,
    };
  }

  #evaluate(
    userId: string,
    events: readonly CountableEvent[],
    rules: CompiledPushRules,
    room: RoomContext,
  ): UnreadCounts {
    const context: PushContext = {
      userId,
      memberCount: room.memberCount,
      displayName: room.displayName,
      powerLevels: room.powerLevels,
    };
    let notifications = 0;
    let highlights = 0;
    for (const event of events) {
      if (event.sender === userId) continue;
      this.#evaluated += 1;
      const outcome = rules.evaluator.evaluate(JSON.parse(event.pdu) as PushEvent, context);
      if (!outcome.notify) continue;
      notifications += 1;
      if (outcome.highlight) highlights += 1;
    }
    return notifications === 0 ? ZERO : { notifications, highlights };
  }

  async #readPosition(userId: string, roomId: string): Promise<number> {
    return this.deps.db.read((db) => selectReadPosition(db, roomId, userId));
  }

  /** The room as the rules see it now: members, the user's display name, power levels. */
  async #roomContext(userId: string, roomId: string): Promise<RoomContext> {
    const { membership, joined } = await this.deps.db.read(async (db) => ({
      membership: await selectMembership(db, roomId, userId),
      joined: await countJoinedMembers(db, [roomId]),
    }));
    const { roomGraph } = this.deps;
    const version = await roomGraph.roomVersionOf(roomId);
    let powerLevels = NO_POWER;
    if (version !== undefined) {
      const state = await roomGraph.currentState(roomId);
      const powerLevelsId = state.get(POWER_LEVELS_KEY);
      const createId = state.get(CREATE_KEY);
      const events = await roomGraph.getEvents(
        [powerLevelsId, createId].filter((id) => id !== undefined),
      );
      powerLevels = new PowerLevels(
        powerLevelsId === undefined ? undefined : events.get(powerLevelsId),
        createId === undefined ? undefined : events.get(createId),
        version,
      );
    }
    return {
      memberCount: joined.get(roomId) ?? 0,
      displayName: membership?.displayname ?? null,
      powerLevels,
      joinedAt: Number(membership?.last_join_stream_ordering ?? 0),
    };
  }
}
