import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { MAX_IDS_PER_QUERY, batches } from '../room-graph/batches.js';

/** Records an accepted redaction, in the transaction that stores the redaction event. */
export async function insertRedaction(
  trx: Kysely<Database>,
  redactionEventId: string,
  redacts: string,
  roomId: string,
): Promise<void> {
  await trx
    .insertInto('redactions')
    .values({ event_id: redactionEventId, redacts, room_id: roomId })
    .onConflict((oc) => oc.column('event_id').doNothing())
    .execute();
}

/**
 * The redaction events that redact any of `eventIds`: for each redacted event, the earliest
 * redaction (by stream position) in the same room.
 */
export async function selectRedactionsOf(
  db: Kysely<Database>,
  eventIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const batch of batches([...new Set(eventIds)], MAX_IDS_PER_QUERY)) {
    const rows = await db
      .selectFrom('redactions')
      .innerJoin('events as redacted', 'redacted.event_id', 'redactions.redacts')
      .innerJoin('events as redaction', 'redaction.event_id', 'redactions.event_id')
      .select(['redactions.redacts', 'redactions.event_id'])
      .where('redactions.redacts', 'in', batch)
      .whereRef('redacted.room_id', '=', 'redactions.room_id')
      .orderBy('redaction.stream_ordering')
      .execute();
    for (const row of rows) if (!found.has(row.redacts)) found.set(row.redacts, row.event_id);
  }
  return found;
}
