import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { forbidden, invalidParam, notFound } from '../../core/errors.js';
import { isValidEventId } from '../../core/identifiers.js';
import { selectAccountData } from '../../storage/accounts/account-data.js';
import {
  selectReceipt,
  selectReceiptsBetween,
  upsertReceipt,
} from '../../storage/ephemeral/receipts.js';
import { selectEventMetadata } from '../../storage/room-graph/events.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { AccountData, AccountDataChange } from '../account-data/account-data.js';
import { Listeners } from '../listeners.js';
import type { MembershipLookup } from './membership-lookup.js';

/** Receipt types stored on the receipts stream. */
export type ReceiptType = 'm.read' | 'm.read.private';
/** What `POST /receipt/{receiptType}` accepts: the stored types and the fully read marker. */
export const RECEIPT_ENDPOINT_TYPES = ['m.read', 'm.read.private', 'm.fully_read'] as const;
export type ReceiptEndpointType = (typeof RECEIPT_ENDPOINT_TYPES)[number];

/** Receipts only their owner may see (spec: "Private read receipts"). */
const PRIVATE_TYPES: readonly ReceiptType[] = ['m.read.private'];
const FULLY_READ = 'm.fully_read';
/** The thread ID of the main timeline (spec: "Threaded read receipts"). */
const MAIN_THREAD = 'main';

/** A receipt was stored; `position` is the receipts stream's new position. */
export interface ReceiptChange {
  readonly roomId: string;
  readonly userId: string;
  readonly receiptType: ReceiptType;
  /** Whether only its owner may see it. */
  readonly private: boolean;
  readonly position: number;
  /** The event it points at, its thread ('' for unthreaded) and what clients see (`ts`, ...). */
  readonly eventId?: string;
  readonly threadId?: string;
  readonly data?: Record<string, unknown>;
}

/** The `m.receipt` ephemeral event of a room: event ID → receipt type → user ID → receipt. */
export interface ReceiptEvent {
  readonly type: 'm.receipt';
  readonly content: Record<string, Record<string, Record<string, Record<string, unknown>>>>;
}

/** `m.fully_read` and read receipts, as `/read_markers` sets them in one request. */
export interface ReadMarkers {
  readonly fullyRead?: string;
  readonly read?: string;
  readonly readPrivate?: string;
}

interface PendingReceipt {
  receiptType: ReceiptType;
  eventId: string;
  threadId: string;
}

/**
 * Read receipts (`m.read`, private `m.read.private`, threaded or not) on the tenant's receipts
 * stream, and the fully read marker, which is room account data (spec: "Receipts", "Read and
 * unread markers"). Markers only move forward: a receipt or marker for an event older (in
 * stream order) than the one it replaces is accepted and ignored, as Synapse does.
 */
export class Receipts {
  readonly changed: Listeners<ReceiptChange>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly memberships: MembershipLookup,
    private readonly accountData: AccountData,
    logger: Logger,
  ) {
    this.changed = new Listeners(logger, 'receipt stored');
  }

  /**
   * `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`. `m.fully_read` sets the read marker
   * (and takes no thread). `threadId` is `main` or a thread root's event ID; undefined for an
   * unthreaded receipt. 403 if the user is not in the room, 404 for an event not in it.
   */
  async sendReceipt(
    roomId: string,
    userId: string,
    receiptType: ReceiptEndpointType,
    eventId: string,
    threadId: string | undefined,
  ): Promise<void> {
    if (threadId !== undefined) {
      if (receiptType === FULLY_READ) {
        throw invalidParam('thread_id cannot be used with m.fully_read');
      }
      checkThreadId(threadId);
    }
    if (receiptType === FULLY_READ) {
      await this.setReadMarkers(roomId, userId, { fullyRead: eventId });
      return;
    }
    await this.#write(roomId, userId, undefined, [
      { receiptType, eventId, threadId: threadId ?? '' },
    ]);
  }

  /**
   * `POST /rooms/{roomId}/read_markers`: the fully read marker (room account data) and the
   * unthreaded read receipts, in one transaction.
   */
  async setReadMarkers(roomId: string, userId: string, markers: ReadMarkers): Promise<void> {
    const receipts: PendingReceipt[] = [];
    if (markers.read !== undefined) {
      receipts.push({ receiptType: 'm.read', eventId: markers.read, threadId: '' });
    }
    if (markers.readPrivate !== undefined) {
      receipts.push({ receiptType: 'm.read.private', eventId: markers.readPrivate, threadId: '' });
    }
    await this.#write(roomId, userId, markers.fullyRead, receipts);
  }

  /**
   * For `/sync`: the `m.receipt` event of each room among `roomIds` with receipts set at
   * positions in (`from`, `to`] that `userId` may see (private receipts only their owner's).
   * Each receipt appears once, as it is now (a later one of the same key replaced it).
   */
  async changesBetween(
    userId: string,
    roomIds: readonly string[],
    from: number,
    to: number,
  ): Promise<Map<string, ReceiptEvent>> {
    const records = await this.db.read((db) =>
      selectReceiptsBetween(db, roomIds, from, to, userId, PRIVATE_TYPES),
    );
    const events = new Map<string, ReceiptEvent>();
    for (const record of records) {
      let event = events.get(record.roomId);
      if (event === undefined) {
        event = { type: 'm.receipt', content: {} };
        events.set(record.roomId, event);
      }
      const byType = (event.content[record.eventId] ??= {});
      const byUser = (byType[record.receiptType] ??= {});
      byUser[record.userId] = record.data;
    }
    return events;
  }

  /**
   * An `m.read` receipt of a user of another server, received over federation (the caller checked
   * that the origin speaks for the user and that they are in the room). Stored like a local one,
   * for an event this server may not have; when both events are known it only moves forward.
   */
  async receiveRemote(
    roomId: string,
    userId: string,
    eventId: string,
    threadId: string | undefined,
    ts: number,
  ): Promise<void> {
    const change = await this.db.transact(async (trx): Promise<ReceiptChange | undefined> => {
      const key = { roomId, receiptType: 'm.read' as const, userId, threadId: threadId ?? '' };
      const current = await selectReceipt(trx, key, { forUpdate: this.db.dialect === 'postgres' });
      const [target] = await selectEventMetadata(trx, [eventId]);
      if (current !== undefined && target !== undefined && target.room_id === roomId) {
        const ordering = Number(target.stream_ordering);
        if (!(await this.#movesForward(trx, roomId, current.eventId, ordering))) return undefined;
      }
      const data: Record<string, unknown> = { ts };
      if (key.threadId !== '') data['thread_id'] = key.threadId;
      const position = await upsertReceipt(trx, { ...key, eventId, data });
      return { ...key, private: false, position, eventId, data };
    });
    if (change !== undefined) await this.changed.emit(change);
  }

  async #write(
    roomId: string,
    userId: string,
    fullyRead: string | undefined,
    receipts: readonly PendingReceipt[],
  ): Promise<void> {
    if (!(await this.memberships.isJoined(roomId, userId))) {
      throw forbidden('You are not in this room');
    }
    const ts = this.clock.now();
    const { accountChange, receiptChanges } = await this.db.transact(async (trx) => {
      const wanted = receipts.map((receipt) => receipt.eventId);
      if (fullyRead !== undefined) wanted.push(fullyRead);
      const orderings = await this.#eventOrderings(trx, roomId, wanted);

      let accountChange: AccountDataChange | undefined;
      if (fullyRead !== undefined) {
        const current = await selectAccountData(trx, userId, roomId, FULLY_READ);
        const currentId = typeof current?.['event_id'] === 'string' ? current['event_id'] : null;
        if (await this.#movesForward(trx, roomId, currentId, orderings.get(fullyRead) ?? 0)) {
          accountChange = await this.accountData.setManagedIn(trx, userId, roomId, FULLY_READ, {
            event_id: fullyRead,
          });
        }
      }

      const receiptChanges: ReceiptChange[] = [];
      for (const receipt of receipts) {
        const key = {
          roomId,
          receiptType: receipt.receiptType,
          userId,
          threadId: receipt.threadId,
        };
        // PostgreSQL runs writers concurrently: lock the receipt we compare against.
        const current = await selectReceipt(trx, key, {
          forUpdate: this.db.dialect === 'postgres',
        });
        const ordering = orderings.get(receipt.eventId) ?? 0;
        if (!(await this.#movesForward(trx, roomId, current?.eventId ?? null, ordering))) continue;
        const data: Record<string, unknown> = { ts };
        if (receipt.threadId !== '') data['thread_id'] = receipt.threadId;
        const position = await upsertReceipt(trx, { ...key, eventId: receipt.eventId, data });
        receiptChanges.push({
          roomId,
          userId,
          receiptType: receipt.receiptType,
          private: PRIVATE_TYPES.includes(receipt.receiptType),
          position,
          eventId: receipt.eventId,
          threadId: receipt.threadId,
          data,
        });
      }
      return { accountChange, receiptChanges };
    });
    if (accountChange !== undefined) await this.accountData.announce(accountChange);
    for (const change of receiptChanges) await this.changed.emit(change);
  }

  /**
   * The stream orderings of events clients may point receipts at: accepted events of the room
   * that are part of its timeline. Anything else is 404 M_NOT_FOUND.
   */
  async #eventOrderings(
    trx: Kysely<Database>,
    roomId: string,
    eventIds: readonly string[],
  ): Promise<Map<string, number>> {
    const rows = await selectEventMetadata(trx, eventIds);
    const orderings = new Map<string, number>();
    for (const row of rows) {
      const visible =
        row.room_id === roomId &&
        row.outlier === 0 &&
        row.soft_failed === 0 &&
        row.rejected_reason === null;
      if (visible) orderings.set(row.event_id, Number(row.stream_ordering));
    }
    for (const eventId of eventIds) {
      if (!orderings.has(eventId)) throw notFound(`Event ${eventId} not found in this room`);
    }
    return orderings;
  }

  /** Whether a marker at `currentId` may move to an event at `ordering` (same event: no). */
  async #movesForward(
    trx: Kysely<Database>,
    roomId: string,
    currentId: string | null,
    ordering: number,
  ): Promise<boolean> {
    if (currentId === null) return true;
    const [current] = await selectEventMetadata(trx, [currentId]);
    // A marker at an event no longer stored (or from elsewhere) cannot hold the new one back.
    if (current === undefined || current.room_id !== roomId) return true;
    return ordering > Number(current.stream_ordering);
  }
}

/** `thread_id` is `main` or a thread root's event ID (spec: 400 M_INVALID_PARAM otherwise). */
function checkThreadId(threadId: string): void {
  if (threadId === '') throw invalidParam('thread_id must be a non-empty string');
  if (threadId !== MAIN_THREAD && !isValidEventId(threadId)) {
    throw invalidParam('thread_id must be "main" or an event ID');
  }
}
