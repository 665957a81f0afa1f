/**
 * The outbound federation queue (see migrations/0012-federation.ts): what each destination still
 * has to be sent, in queue order, and each destination's backoff. Rows are removed only once the
 * destination accepted the transaction that carried them, so the queue survives restarts,
 * hibernation and moves (it lives in the tenant's database).
 */
import type { Kysely } from 'kysely';
import { nextStreamPosition } from '../ephemeral/stream-positions.js';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from '../room-graph/batches.js';
import type { Database } from '../schema.js';

/** One queued PDU (by event ID) or EDU (with its content). */
export type OutboundItem =
  | { readonly kind: 'pdu'; readonly eventId: string }
  | { readonly kind: 'edu'; readonly eduType: string; readonly content: string };

/** A queued row. */
export type OutboundRow = OutboundItem & { readonly queueId: number };

/** A destination's backoff state. */
export interface DestinationState {
  destination: string;
  /** Consecutive failed attempts; 0 once a transaction went through. */
  failures: number;
  /** No attempt before this time (ms since the epoch); 0: now. */
  retryAtTs: number;
  lastSuccessTs: number | null;
  lastError: string | null;
}

/**
 * Queues one item for each of `destinations` at the next position of the `federation_outbound`
 * sequence (the same position for all: the key is the destination and the position), and makes
 * sure each destination has a backoff row. Returns the position.
 */
export async function insertOutboundItem(
  trx: Kysely<Database>,
  destinations: readonly string[],
  item: OutboundItem,
): Promise<number> {
  const queueId = await nextStreamPosition(trx, 'federation_outbound');
  if (destinations.length === 0) return queueId;
  for (const chunk of batches(destinations, MAX_ROWS_PER_INSERT)) {
    await trx
      .insertInto('federation_outbound')
      .values(
        chunk.map((destination) => ({
          destination,
          queue_id: queueId,
          kind: item.kind,
          event_id: item.kind === 'pdu' ? item.eventId : null,
          edu_type: item.kind === 'edu' ? item.eduType : null,
          content: item.kind === 'edu' ? item.content : null,
        })),
      )
      .execute();
    await trx
      .insertInto('federation_destinations')
      .values(
        chunk.map((destination) => ({
          destination,
          failures: 0,
          retry_at_ts: 0,
          last_success_ts: null,
          last_error: null,
        })),
      )
      .onConflict((oc) => oc.column('destination').doNothing())
      .execute();
  }
  return queueId;
}

/**
 * The next rows of a destination's queue: its first `maxPdus` PDUs and first `maxEdus` EDUs, in
 * queue order.
 */
export async function selectOutboundBatch(
  db: Kysely<Database>,
  destination: string,
  maxPdus: number,
  maxEdus: number,
): Promise<OutboundRow[]> {
  const select = (kind: 'pdu' | 'edu', limit: number) =>
    db
      .selectFrom('federation_outbound')
      .selectAll()
      .where('destination', '=', destination)
      .where('kind', '=', kind)
      .orderBy('queue_id')
      .limit(limit)
      .execute();
  const rows = [...(await select('pdu', maxPdus)), ...(await select('edu', maxEdus))];
  return rows
    .map((row): OutboundRow => {
      const queueId = Number(row.queue_id);
      return row.kind === 'pdu'
        ? { kind: 'pdu', queueId, eventId: row.event_id ?? '' }
        : { kind: 'edu', queueId, eduType: row.edu_type ?? '', content: row.content ?? '{}' };
    })
    .sort((a, b) => a.queueId - b.queueId);
}

/** Removes rows of a destination's queue (sent, or not sendable). */
export async function deleteOutboundRows(
  db: Kysely<Database>,
  destination: string,
  queueIds: readonly number[],
): Promise<void> {
  for (const chunk of batches(queueIds, MAX_IDS_PER_QUERY)) {
    await db
      .deleteFrom('federation_outbound')
      .where('destination', '=', destination)
      .where('queue_id', 'in', chunk)
      .execute();
  }
}

/** How many rows a destination has queued. */
export async function countOutboundRows(
  db: Kysely<Database>,
  destination: string,
): Promise<number> {
  const row = await db
    .selectFrom('federation_outbound')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('destination', '=', destination)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** The destinations that have rows queued. */
export async function selectQueuedDestinations(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('federation_outbound')
    .select('destination')
    .distinct()
    .orderBy('destination')
    .execute();
  return rows.map((row) => row.destination);
}

/** A destination's backoff state; undefined when nothing was ever queued for it. */
export async function selectDestinationState(
  db: Kysely<Database>,
  destination: string,
): Promise<DestinationState | undefined> {
  const row = await db
    .selectFrom('federation_destinations')
    .selectAll()
    .where('destination', '=', destination)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    destination: row.destination,
    failures: Number(row.failures),
    retryAtTs: Number(row.retry_at_ts),
    lastSuccessTs: row.last_success_ts === null ? null : Number(row.last_success_ts),
    lastError: row.last_error,
  };
}

/** A transaction went through: no backoff any more. */
export async function recordDestinationSuccess(
  db: Kysely<Database>,
  destination: string,
  now: number,
): Promise<void> {
  await upsertDestination(db, destination, {
    failures: 0,
    retry_at_ts: 0,
    last_success_ts: now,
    last_error: null,
  });
}

/** An attempt failed: the destination waits until `retryAtTs`. */
export async function recordDestinationFailure(
  db: Kysely<Database>,
  destination: string,
  failures: number,
  retryAtTs: number,
  error: string,
): Promise<void> {
  await upsertDestination(db, destination, {
    failures,
    retry_at_ts: retryAtTs,
    last_error: error.slice(0, 1000),
  });
}

/**
 * The destination showed signs of life (it sent us a request): try it now, keeping the count of
 * failures so that a new failure backs off from where it was.
 */
export async function clearDestinationRetry(
  db: Kysely<Database>,
  destination: string,
): Promise<void> {
  await db
    .updateTable('federation_destinations')
    .set({ retry_at_ts: 0 })
    .where('destination', '=', destination)
    .execute();
}

async function upsertDestination(
  db: Kysely<Database>,
  destination: string,
  set: {
    failures: number;
    retry_at_ts: number;
    last_success_ts?: number;
    last_error: string | null;
  },
): Promise<void> {
  await db
    .insertInto('federation_destinations')
    .values({
      destination,
      failures: set.failures,
      retry_at_ts: set.retry_at_ts,
      last_success_ts: set.last_success_ts ?? null,
      last_error: set.last_error,
    })
    .onConflict((oc) => oc.column('destination').doUpdateSet(set))
    .execute();
}
