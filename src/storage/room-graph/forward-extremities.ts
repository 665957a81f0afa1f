import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** The room's forward extremities: the accepted events of its DAG that no event follows yet. */
export async function selectForwardExtremities(
  db: Kysely<Database>,
  roomId: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('event_forward_extremities')
    .select('event_id')
    .where('room_id', '=', roomId)
    .orderBy('event_id')
    .execute();
  return rows.map((row) => row.event_id);
}

/**
 * Moves the room's extremities past a newly stored accepted event: its prev_events stop being
 * extremities, and it becomes one unless an accepted event already stored lists it among its
 * prev_events (it arrived late, e.g. fetched as a missing event). Call it in the transaction that
 * stores the event, after the event row. Returns whether the event became an extremity.
 */
export async function advanceForwardExtremities(
  trx: Kysely<Database>,
  roomId: string,
  eventId: string,
  prevEventIds: readonly string[],
): Promise<boolean> {
  const prevs = [...new Set(prevEventIds)];
  if (prevs.length > 0) {
    await trx
      .deleteFrom('event_forward_extremities')
      .where('room_id', '=', roomId)
      .where('event_id', 'in', prevs)
      .execute();
  }
  // Inserted unless an accepted stored event lists it among its prev_events: one statement.
  const inserted = await trx
    .insertInto('event_forward_extremities')
    .columns(['room_id', 'event_id'])
    .expression(
      trx
        .selectNoFrom((eb) => [eb.val(roomId).as('room_id'), eb.val(eventId).as('event_id')])
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('event_prev_events')
                .innerJoin('events', 'events.event_id', 'event_prev_events.event_id')
                .select('events.event_id')
                .where('event_prev_events.prev_event_id', '=', eventId)
                .where('events.outlier', '=', 0)
                .where('events.soft_failed', '=', 0)
                .where('events.rejected_reason', 'is', null),
            ),
          ),
        ),
    )
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}
