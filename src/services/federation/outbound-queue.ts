/**
 * The tenant's outbound federation: PDUs and EDUs queued per destination in the tenant's
 * database (so that they survive restarts, hibernation and moves) and sent as transactions
 * (`PUT /_matrix/federation/v1/send/{txnId}`, at most 50 PDUs and 100 EDUs each) by one sender
 * loop per destination, so that a slow or dead destination never delays the others.
 *
 * Rows go only once the destination answered 200; a failed attempt backs the destination off
 * (1 s, doubling, at most 1 h; persisted), and a request from that destination (`onRemoteActivity`)
 * retries it at once. A PDU the receiver refused (an `error` in the 200 answer) is logged, not
 * retried. Typing notifications are not persisted (`sendEphemeralEdu`): they are ephemeral and
 * expire within 30 s, so one delivered after a restart would only be wrong.
 *
 * `stats()` gives plain running totals and destination states for the shard's metrics.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { Semaphore } from '../../core/semaphore.js';
import {
  clearDestinationRetry,
  deleteOutboundRows,
  insertOutboundItem,
  recordDestinationFailure,
  recordDestinationSuccess,
  selectDestinationState,
  selectOutboundBatch,
  selectQueuedDestinations,
  type OutboundRow,
} from '../../storage/federation/outbound-queue.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { RoomGraph } from '../room-graph/room-graph.js';
import { FederationRequestError, type FederationClient } from './federation-contracts.js';

/** Spec: a transaction carries at most 50 PDUs and 100 EDUs. */
export const MAX_PDUS_PER_TRANSACTION = 50;
export const MAX_EDUS_PER_TRANSACTION = 100;
/** Ephemeral EDUs older than this are dropped rather than sent (typing lasts at most 30 s). */
const EPHEMERAL_EDU_LIFETIME_MS = 30_000;
/** A destination's last success is written at most this often while it keeps succeeding. */
const SUCCESS_RECORD_INTERVAL_MS = 60_000;
/** Consecutive failures during which a destination's `Retry-After` shortens the backoff. */
const RETRY_AFTER_TRUSTED_FAILURES = 10;
/** At most this many ephemeral EDUs wait per destination (the oldest go first). */
const MAX_PENDING_EPHEMERAL_EDUS = 1_000;

export interface OutboundQueueOptions {
  /** The wait after the first failure; it doubles with each further one. Default 1 s. */
  readonly initialBackoffMs?: number;
  /** The longest wait between attempts. Default 1 h. */
  readonly maxBackoffMs?: number;
  /** Give up on a transaction request after this long. Default 60 s. */
  readonly requestTimeoutMs?: number;
  /** Destinations preparing a transaction (reading the database) at once. Default 4. */
  readonly maxConcurrentPreparations?: number;
}

export interface OutboundQueueDeps {
  readonly serverName: string;
  readonly db: TenantDatabase;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly client: FederationClient;
  /** Where queued PDUs are read from (the `events` table). */
  readonly roomGraph: Pick<RoomGraph, 'getEvents'>;
  readonly options?: OutboundQueueOptions;
}

/** An EDU as a transaction carries it. */
export interface Edu {
  readonly edu_type: string;
  readonly content: JsonObject;
}

/** Where a destination's sender stands: working, waiting out a backoff, or stopped (no work). */
export type DestinationState = 'sending' | 'backing_off' | 'idle';

/** Running totals of one `OutboundQueue` instance (they start at 0 with it). */
export interface OutboundTotals {
  /** Transactions the destination answered with a 200. */
  transactionsSent: number;
  /** Transactions that got no 200 (error status, timeout, unreachable). */
  transactionsFailed: number;
  /** PDUs and EDUs carried by transactions answered with a 200. */
  pdusSent: number;
  edusSent: number;
}

/** What `OutboundQueue.stats()` reports: plain numbers, read by the shard's metrics. */
export interface OutboundStats extends Readonly<OutboundTotals> {
  /** Destinations this instance has a sender for, by state. */
  readonly destinations: Readonly<Record<DestinationState, number>>;
}

/** The 200 answer of `PUT /send/{txnId}`. */
interface SendTransactionResponse {
  pdus?: Record<string, { error?: string }>;
}

export class OutboundQueue {
  readonly #deps: OutboundQueueDeps;
  readonly #senders = new Map<string, DestinationSender>();
  readonly #preparing: Semaphore;
  /** Makes transaction IDs of this instance unique whatever earlier instances used. */
  readonly #nonce: string;
  /** Shared with the senders, which add to it. */
  readonly #totals: OutboundTotals = {
    transactionsSent: 0,
    transactionsFailed: 0,
    pdusSent: 0,
    edusSent: 0,
  };
  #stopped = false;

  constructor(deps: OutboundQueueDeps) {
    this.#deps = deps;
    this.#preparing = new Semaphore(deps.options?.maxConcurrentPreparations ?? 4);
    this.#nonce = `${deps.clock.now().toString(36)}${randomBytes(4).toString('hex')}`;
  }

  /**
   * Queues a PDU (stored in `events`) for `destinations` (this server and duplicates left out).
   * In the caller's transaction `trx` if given: then call `kick(destinations)` once it committed.
   */
  async enqueuePdu(
    eventId: string,
    destinations: Iterable<string>,
    trx?: Kysely<Database>,
  ): Promise<void> {
    await this.#enqueue(destinations, { kind: 'pdu', eventId }, trx);
  }

  /** Queues an EDU for one destination or several; `trx` as for `enqueuePdu`. */
  async enqueueEdu(
    destinations: string | Iterable<string>,
    eduType: string,
    content: JsonObject,
    trx?: Kysely<Database>,
  ): Promise<void> {
    const list = typeof destinations === 'string' ? [destinations] : destinations;
    await this.#enqueue(list, { kind: 'edu', eduType, content: JSON.stringify(content) }, trx);
  }

  /**
   * Sends an EDU that is not worth persisting (typing): kept in memory, with the next
   * transaction of each destination, dropped when older than 30 s or when the tenant stops.
   */
  sendEphemeralEdu(destinations: Iterable<string>, eduType: string, content: JsonObject): void {
    if (this.#stopped) return;
    const expiresTs = this.#deps.clock.now() + EPHEMERAL_EDU_LIFETIME_MS;
    for (const destination of this.#remote(destinations)) {
      const sender = this.#senderOf(destination);
      sender.addEphemeral({ edu: { edu_type: eduType, content }, expiresTs });
      sender.wake();
    }
  }

  /** Rows were queued for these destinations in a transaction that has now committed. */
  kick(destinations: Iterable<string>): void {
    if (this.#stopped) return;
    for (const destination of this.#remote(destinations)) this.#senderOf(destination).wake();
  }

  /**
   * A request from `origin` arrived: if it is backed off, try it now (it is back), else nothing.
   */
  onRemoteActivity(origin: string): void {
    if (this.#stopped || origin === this.#deps.serverName) return;
    const sender = this.#senders.get(origin);
    if (sender !== undefined) {
      sender.retryNow();
      return;
    }
    // Not known to this instance: it may have rows and a backoff from an earlier one.
    void this.#deps.db
      .read((db) => selectDestinationState(db, origin))
      .then((state) => {
        if (state !== undefined && (state.retryAtTs > 0 || state.failures > 0)) {
          this.#senderOf(origin).retryNow();
        }
      })
      .catch((error: unknown) => {
        this.#deps.logger.warn({ err: error, destination: origin }, 'federation wake failed');
      });
  }

  /** Resumes every destination with rows queued (after a restart, a wake-up, a move). */
  async start(): Promise<void> {
    const destinations = await this.#deps.db.read((db) => selectQueuedDestinations(db));
    this.kick(destinations);
  }

  /** Ends every sender promptly (requests in flight aborted); queued rows stay. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#senders.values()].map((sender) => sender.stop()));
  }

  /** Resolves once no sender has work in progress (tests). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.#senders.values()].map((sender) => sender.running);
      const pending = running.filter((run): run is Promise<void> => run !== undefined);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /**
   * Whether some destination has work to send now or within `ms` (not one waiting out a long
   * backoff): the shard keeps such a tenant awake rather than hibernating it.
   */
  hasWorkDueWithin(ms: number): boolean {
    const horizon = this.#deps.clock.now() + ms;
    return [...this.#senders.values()].some((sender) => sender.dueBefore(horizon));
  }

  /** The destinations this instance has a sender for, and whether each is running. */
  senders(): Map<string, boolean> {
    return new Map(
      [...this.#senders].map(([name, sender]) => [name, sender.running !== undefined]),
    );
  }

  /** Running totals and destination states (metrics); no database read. */
  stats(): OutboundStats {
    const destinations: Record<DestinationState, number> = { sending: 0, backing_off: 0, idle: 0 };
    const now = this.#deps.clock.now();
    for (const sender of this.#senders.values()) destinations[sender.state(now)] += 1;
    return { ...this.#totals, destinations };
  }

  async #enqueue(
    destinations: Iterable<string>,
    item: Parameters<typeof insertOutboundItem>[2],
    trx: Kysely<Database> | undefined,
  ): Promise<void> {
    const list = this.#remote(destinations);
    if (list.length === 0) return;
    if (trx !== undefined) {
      await insertOutboundItem(trx, list, item);
      return;
    }
    await this.#deps.db.transact((own) => insertOutboundItem(own, list, item));
    this.kick(list);
  }

  #remote(destinations: Iterable<string>): string[] {
    const own = this.#deps.serverName;
    return [...new Set(destinations)].filter((destination) => destination !== own);
  }

  #senderOf(destination: string): DestinationSender {
    let sender = this.#senders.get(destination);
    if (sender === undefined) {
      sender = new DestinationSender(
        destination,
        this.#deps,
        this.#preparing,
        this.#nonce,
        this.#totals,
      );
      this.#senders.set(destination, sender);
    }
    return sender;
  }
}

interface PendingEphemeralEdu {
  readonly edu: Edu;
  readonly expiresTs: number;
}

/** A prepared transaction: what it carries, and the queue rows it empties once accepted. */
interface PreparedTransaction {
  readonly pdus: JsonObject[];
  readonly edus: Edu[];
  readonly queueIds: number[];
  readonly ephemeral: PendingEphemeralEdu[];
}

/**
 * One destination's loop: while it has work, prepare a transaction, send it, and on failure wait
 * out the backoff. The loop ends when the queue is empty and starts again on `wake`.
 */
class DestinationSender {
  running: Promise<void> | undefined;
  readonly #destination: string;
  readonly #deps: OutboundQueueDeps;
  readonly #preparing: Semaphore;
  readonly #nonce: string;
  readonly #totals: OutboundTotals;
  #ephemeral: PendingEphemeralEdu[] = [];
  /** Work arrived since the loop last looked at the queue. */
  #again = false;
  #loaded = false;
  #skipStoredBackoff = false;
  #failures = 0;
  #retryAtTs = 0;
  #txnCounter = 0;
  /** When a success was last written to `federation_destinations` (0: never, this instance). */
  #successRecordedTs = 0;
  #stopped = false;
  #abort: AbortController | undefined;
  #interruptSleep: (() => void) | undefined;

  constructor(
    destination: string,
    deps: OutboundQueueDeps,
    preparing: Semaphore,
    nonce: string,
    totals: OutboundTotals,
  ) {
    this.#destination = destination;
    this.#deps = deps;
    this.#preparing = preparing;
    this.#nonce = nonce;
    this.#totals = totals;
  }

  /** Idle when its loop is not running; backing off while it waits for its next attempt. */
  state(now: number): DestinationState {
    if (this.running === undefined) return 'idle';
    return this.#retryAtTs > now ? 'backing_off' : 'sending';
  }

  /** Running, and its next attempt is before `ts`. */
  dueBefore(ts: number): boolean {
    return this.running !== undefined && this.#retryAtTs < ts;
  }

  addEphemeral(pending: PendingEphemeralEdu): void {
    this.#ephemeral.push(pending);
    if (this.#ephemeral.length > MAX_PENDING_EPHEMERAL_EDUS) this.#ephemeral.shift();
  }

  /** There is work: start the loop, or have it look at the queue again (backoff still applies). */
  wake(): void {
    if (this.#stopped) return;
    this.#again = true;
    if (this.running === undefined) this.#start();
  }

  /** The destination is back: forget the backoff and try now. */
  retryNow(): void {
    if (this.#stopped) return;
    const wasBackedOff = this.#retryAtTs > 0 || !this.#loaded;
    this.#retryAtTs = 0;
    if (!this.#loaded) this.#skipStoredBackoff = true;
    if (wasBackedOff) {
      void this.#deps.db
        .transact((trx) => clearDestinationRetry(trx, this.#destination))
        .catch((error: unknown) => this.#log().warn({ err: error }, 'federation wake failed'));
    }
    this.#interruptSleep?.();
    this.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#ephemeral = [];
    this.#abort?.abort();
    this.#interruptSleep?.();
    await this.running;
  }

  #start(): void {
    this.running = this.#run().catch((error: unknown) => {
      this.running = undefined;
      this.#log().error({ err: error }, 'federation sender failed');
    });
  }

  async #run(): Promise<void> {
    if (!this.#loaded) {
      const state = await this.#deps.db.read((db) => selectDestinationState(db, this.#destination));
      this.#failures = state?.failures ?? 0;
      // `retryNow` before or while this was read: the stored backoff no longer applies.
      this.#retryAtTs = this.#skipStoredBackoff ? 0 : (state?.retryAtTs ?? 0);
      this.#loaded = true;
    }
    while (!this.#stopped) {
      const wait = this.#retryAtTs - this.#deps.clock.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      this.#again = false;
      const outcome = await this.#attempt();
      // Synchronously with the check, so that a `wake` after it starts a new loop. A transaction
      // that took less than a full batch emptied the queue as it was read: nothing to look for
      // unless more work arrived since (`#again`).
      if ((outcome === 'empty' || outcome === 'drained') && !this.#again) break;
    }
    this.running = undefined;
  }

  /** One transaction: prepared, sent, and its rows removed or the destination backed off. */
  async #attempt(): Promise<'empty' | 'drained' | 'sent' | 'failed'> {
    let prepared: PreparedTransaction;
    try {
      prepared = await this.#preparing.run(() => this.#prepare());
    } catch (error) {
      await this.#failed(error);
      return 'failed';
    }
    if (prepared.pdus.length === 0 && prepared.edus.length === 0) {
      // Only rows whose events are gone: drop them.
      if (prepared.queueIds.length > 0) {
        await this.#deps.db.transact((trx) =>
          deleteOutboundRows(trx, this.#destination, prepared.queueIds),
        );
        return 'sent';
      }
      return 'empty';
    }
    this.#txnCounter += 1;
    const txnId = `${this.#nonce}.${this.#txnCounter}`;
    const abort = new AbortController();
    this.#abort = abort;
    let answered = false;
    try {
      const response = await this.#deps.client.request<SendTransactionResponse>(this.#destination, {
        method: 'PUT',
        path: `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`,
        body: {
          origin: this.#deps.serverName,
          origin_server_ts: this.#deps.clock.now(),
          pdus: prepared.pdus,
          edus: prepared.edus as unknown as JsonObject[],
        },
        timeoutMs: this.#deps.options?.requestTimeoutMs ?? 60_000,
        signal: abort.signal,
      });
      answered = true;
      this.#totals.transactionsSent += 1;
      this.#totals.pdusSent += prepared.pdus.length;
      this.#totals.edusSent += prepared.edus.length;
      this.#logRefusedPdus(response);
      const now = this.#deps.clock.now();
      // The destination's row changes only after failures, and its last success at most once a
      // minute: a busy destination costs no write per transaction for it.
      const recordSuccess =
        this.#failures > 0 || now - this.#successRecordedTs >= SUCCESS_RECORD_INTERVAL_MS;
      await this.#deps.db.transact(async (trx) => {
        await deleteOutboundRows(trx, this.#destination, prepared.queueIds);
        if (recordSuccess) await recordDestinationSuccess(trx, this.#destination, now);
      });
      if (recordSuccess) this.#successRecordedTs = now;
      const sent = new Set(prepared.ephemeral);
      this.#ephemeral = this.#ephemeral.filter((pending) => !sent.has(pending));
      this.#failures = 0;
      this.#retryAtTs = 0;
      const full =
        prepared.pdus.length >= MAX_PDUS_PER_TRANSACTION ||
        prepared.edus.length >= MAX_EDUS_PER_TRANSACTION;
      return full ? 'sent' : 'drained';
    } catch (error) {
      if (this.#stopped) return 'failed';
      // Counted once: a failure after the 200 (removing the rows) was a sent transaction.
      if (!answered) this.#totals.transactionsFailed += 1;
      await this.#failed(error);
      return 'failed';
    } finally {
      this.#abort = undefined;
    }
  }

  async #prepare(): Promise<PreparedTransaction> {
    const now = this.#deps.clock.now();
    this.#ephemeral = this.#ephemeral.filter((pending) => pending.expiresTs > now);
    const rows = await this.#deps.db.read((db) =>
      selectOutboundBatch(
        db,
        this.#destination,
        MAX_PDUS_PER_TRANSACTION,
        MAX_EDUS_PER_TRANSACTION,
      ),
    );
    const pduRows = rows.filter((row): row is OutboundRow & { kind: 'pdu' } => row.kind === 'pdu');
    const events = await this.#deps.roomGraph.getEvents(pduRows.map((row) => row.eventId));
    const pdus: JsonObject[] = [];
    const edus: Edu[] = [];
    for (const row of rows) {
      if (row.kind === 'pdu') {
        const event = events.get(row.eventId);
        if (event === undefined) {
          this.#log().warn({ event_id: row.eventId }, 'queued PDU no longer stored; dropped');
          continue;
        }
        pdus.push(federationPdu(event.pdu));
      } else {
        edus.push({ edu_type: row.eduType, content: JSON.parse(row.content) as JsonObject });
      }
    }
    const room = MAX_EDUS_PER_TRANSACTION - edus.length;
    const ephemeral = this.#ephemeral.slice(0, Math.max(0, room));
    edus.push(...ephemeral.map((pending) => pending.edu));
    return { pdus, edus, queueIds: rows.map((row) => row.queueId), ephemeral };
  }

  async #failed(error: unknown): Promise<void> {
    const options = this.#deps.options;
    const initial = options?.initialBackoffMs ?? 1_000;
    const max = options?.maxBackoffMs ?? 60 * 60 * 1000;
    this.#failures += 1;
    let delay = Math.min(max, initial * 2 ** Math.min(this.#failures - 1, 40));
    // A destination that says when to come back (a router whose shard restarts answers 503 with
    // Retry-After: 1) is believed for a while, so catching up does not wait out a long backoff.
    if (
      error instanceof FederationRequestError &&
      error.retryAfterMs !== undefined &&
      this.#failures <= RETRY_AFTER_TRUSTED_FAILURES
    ) {
      delay = Math.min(delay, Math.max(error.retryAfterMs, initial));
    }
    this.#retryAtTs = this.#deps.clock.now() + delay;
    const message = error instanceof Error ? error.message : String(error);
    this.#log().warn(
      { failures: this.#failures, retry_in_ms: delay, error: message },
      'federation transaction failed; backing off',
    );
    try {
      await this.#deps.db.transact((trx) =>
        recordDestinationFailure(trx, this.#destination, this.#failures, this.#retryAtTs, message),
      );
    } catch (dbError) {
      this.#log().error({ err: dbError }, 'could not record the backoff');
    }
  }

  #logRefusedPdus(response: SendTransactionResponse): void {
    const results = response.pdus;
    if (results === null || typeof results !== 'object') return;
    for (const [eventId, result] of Object.entries(results)) {
      if (result !== null && typeof result === 'object' && typeof result.error === 'string') {
        this.#log().warn({ event_id: eventId, error: result.error }, 'PDU refused by destination');
      }
    }
  }

  /** Waits `ms`, or less if interrupted (stop, retry now). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#interruptSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#interruptSleep = done;
    });
  }

  #log(): Logger {
    return this.#deps.logger.child({ destination: this.#destination });
  }
}

/** The PDU as sent: `unsigned` holds this server's own annotations and is not sent. */
function federationPdu(pdu: JsonObject): JsonObject {
  if (!Object.hasOwn(pdu, 'unsigned')) return pdu;
  const { unsigned: _unsigned, ...rest } = pdu;
  return rest;
}
