import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Reads the last values of several `sequences` counters in one statement. A counter whose row
 * does not exist yet (a stream whose migration has not been written) reads as 0.
 */
export async function selectSequenceValues<N extends string>(
  db: Kysely<Database>,
  names: readonly N[],
): Promise<Record<N, number>> {
  const rows = await db
    .selectFrom('sequences')
    .select(['name', 'last_value'])
    .where('name', 'in', names)
    .execute();
  const values = Object.fromEntries(names.map((name) => [name, 0])) as Record<N, number>;
  for (const row of rows) values[row.name as N] = Number(row.last_value);
  return values;
}

/**
 * Advances a stream's counter inside a transaction and returns the new position. The value
 * counts only if the transaction commits; on PostgreSQL the row stays locked until then, so
 * writers of one stream commit in the order of their positions and a reader never sees a
 * position whose rows are not visible yet.
 */
export async function nextStreamPosition(trx: Kysely<Database>, name: string): Promise<number> {
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '+', 1) }))
    .where('name', '=', name)
    .returning('last_value')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}
