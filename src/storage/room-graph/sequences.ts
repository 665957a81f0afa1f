import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** The per-tenant counters of the `sequences` table. */
export type SequenceName = 'stream_ordering' | 'state_group';

/**
 * Advances a counter and returns the new value. Call it inside a transaction: the value is taken
 * only if the transaction commits, and on PostgreSQL the row stays locked until then, so writers
 * of the same counter commit in the order of the values they took.
 */
export async function nextSequenceValue(
  trx: Kysely<Database>,
  name: SequenceName,
): Promise<number> {
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '+', 1) }))
    .where('name', '=', name)
    .returning('last_value')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** The last value handed out (0 when none was). */
export async function currentSequenceValue(
  db: Kysely<Database>,
  name: SequenceName,
): Promise<number> {
  const row = await db
    .selectFrom('sequences')
    .select('last_value')
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/**
 * Takes `count` stream positions below every one taken before, for events fetched from a room's
 * past (backfill): the `backfill_ordering` counter goes down from 0, so backfilled events sort
 * before every event this server stored as it happened, and each batch before the one fetched
 * before it. Returns them ascending (the oldest event of the batch gets the first). Call it in a
 * transaction.
 */
export async function takeBackfillPositions(
  trx: Kysely<Database>,
  count: number,
): Promise<number[]> {
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '-', count) }))
    .where('name', '=', 'backfill_ordering')
    .returning('last_value')
    .executeTakeFirstOrThrow();
  const lowest = Number(row.last_value);
  return Array.from({ length: count }, (_, index) => lowest + index);
}
