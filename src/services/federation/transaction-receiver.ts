/**
 * `PUT /send/{txnId}` from another server: its PDUs through `InboundPdus`, its EDUs handed one
 * by one to the EDU handler, and the answer (`{ pdus: { eventId: {} | { error } } }`) recorded
 * so that a retried transaction (same origin and ID) is answered as the first without being
 * processed again. One transaction per origin at a time: a server sends its next transaction
 * only after the previous one was answered, so more in flight is a retry or a flood.
 * `stats()` counts the transactions handled by this instance, for the shard's metrics.
 */

import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { JsonObject } from '../../core/canonical-json.js';
import { badJson } from '../../core/errors.js';
import {
  deleteInboundTxnsBefore,
  insertInboundTxn,
  selectInboundTxnResponse,
} from '../../storage/federation/inbound-txns.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { KeyedLock } from '../rooms/keyed-lock.js';
import type { InboundPdus, PduResult } from './inbound-pdus.js';

/** The spec's limits on one transaction. */
export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;
/** Answers are kept this long for retries, then pruned. */
const TXN_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Pruning runs once every this many transactions. */
const PRUNE_EVERY = 256;

/** Handles one EDU (typing, receipts, presence, device lists, to-device…). */
export interface EduHandler {
  handle(origin: string, edu: JsonObject): Promise<void>;
}

/** Told when a server shows it is up (it sent us something), to retry what waits for it. */
export interface RemoteActivityListener {
  onRemoteActivity(origin: string): void;
}

export interface TransactionReceiverDeps {
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  pdus: Pick<InboundPdus, 'receive'>;
  /** Resolved on each transaction: the EDU handler may be wired after this service is built. */
  edus: () => EduHandler | undefined;
  outbound?: () => RemoteActivityListener | undefined;
}

export interface TransactionBody {
  readonly pdus: readonly JsonObject[];
  readonly edus?: readonly JsonObject[];
}

export interface TransactionResponse {
  pdus: Record<string, PduResult>;
}

/** Transactions handled by one `TransactionReceiver` instance (0 when it starts). */
export interface InboundTransactionStats {
  /** Processed and answered (a retry answered from the stored answer is not counted again). */
  readonly accepted: number;
  /** Answered with an error: over the spec's limits, or their processing failed. */
  readonly refused: number;
}

export class TransactionReceiver {
  readonly #deps: TransactionReceiverDeps;
  readonly #originLock = new KeyedLock();
  #received = 0;
  #accepted = 0;
  #refused = 0;

  constructor(deps: TransactionReceiverDeps) {
    this.#deps = deps;
  }

  stats(): InboundTransactionStats {
    return { accepted: this.#accepted, refused: this.#refused };
  }

  async receive(
    origin: string,
    txnId: string,
    body: TransactionBody,
  ): Promise<TransactionResponse> {
    try {
      const { response, replayed } = await this.#receive(origin, txnId, body);
      if (!replayed) this.#accepted += 1;
      return response;
    } catch (error) {
      this.#refused += 1;
      throw error;
    }
  }

  async #receive(
    origin: string,
    txnId: string,
    body: TransactionBody,
  ): Promise<{ response: TransactionResponse; replayed: boolean }> {
    if (body.pdus.length > MAX_PDUS_PER_TXN) {
      throw badJson(`A transaction has at most ${MAX_PDUS_PER_TXN} PDUs`);
    }
    if ((body.edus?.length ?? 0) > MAX_EDUS_PER_TXN) {
      throw badJson(`A transaction has at most ${MAX_EDUS_PER_TXN} EDUs`);
    }
    const { db, clock, logger } = this.#deps;
    this.#deps.outbound?.()?.onRemoteActivity(origin);
    return this.#originLock.run(origin, async () => {
      const previous = await db.read((d) => selectInboundTxnResponse(d, origin, txnId));
      if (previous !== undefined) {
        return { response: JSON.parse(previous) as TransactionResponse, replayed: true };
      }

      const pdus = await this.#deps.pdus.receive(origin, body.pdus);
      const eduHandler = this.#deps.edus();
      for (const edu of body.edus ?? []) {
        if (eduHandler === undefined) break;
        try {
          await eduHandler.handle(origin, edu);
        } catch (error) {
          // An EDU is best effort: one that fails does not fail the transaction.
          logger.warn({ origin, edu_type: edu.edu_type, err: error }, 'EDU not handled');
        }
      }
      const response: TransactionResponse = { pdus };
      const now = clock.now();
      await db.transact((trx) =>
        insertInboundTxn(trx, {
          origin,
          txnId,
          response: JSON.stringify(response),
          receivedTs: now,
        }),
      );
      if (++this.#received % PRUNE_EVERY === 0) {
        await db.transact((trx) => deleteInboundTxnsBefore(trx, now - TXN_RETENTION_MS));
      }
      return { response, replayed: false };
    });
  }
}
