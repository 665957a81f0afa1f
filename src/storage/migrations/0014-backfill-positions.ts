import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Events fetched from a room's past over federation (backfill) get stream positions below every
 * other event's: the `backfill_ordering` counter goes down from 0 (see `takeBackfillPositions`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`insert into sequences (name, last_value) values ('backfill_ordering', 0)`.execute(db);
}
