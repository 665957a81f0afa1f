import type { Kysely, Selectable } from 'kysely';
import type { Database, EventsTable } from '../schema.js';
import { MAX_IDS_PER_QUERY, MAX_ROWS_PER_INSERT, batches } from './batches.js';

/** An event row without the PDU: what the event is and how it was handled. */
export type EventMetadataRow = Omit<Selectable<EventsTable>, 'pdu'>;

const METADATA_COLUMNS = [
  'events.event_id',
  'events.room_id',
  'events.type',
  'events.state_key',
  'events.sender',
  'events.depth',
  'events.origin_server_ts',
  'events.stream_ordering',
  'events.outlier',
  'events.soft_failed',
  'events.rejected_reason',
] as const;

/**
 * Stores an event row and its prev and auth edges (each distinct ID once: a PDU listing an ID
 * twice is stored as one edge). Returns false, storing nothing, if the event is stored already.
 */
export async function insertEvent(
  trx: Kysely<Database>,
  row: Selectable<EventsTable>,
  prevEventIds: readonly string[],
  authEventIds: readonly string[],
): Promise<boolean> {
  const inserted = await trx
    .insertInto('events')
    .values(row)
    .onConflict((oc) => oc.column('event_id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
  const prevRows = [...new Set(prevEventIds)].map((prev_event_id) => ({
    event_id: row.event_id,
    prev_event_id,
  }));
  for (const batch of batches(prevRows, MAX_ROWS_PER_INSERT)) {
    await trx.insertInto('event_prev_events').values(batch).execute();
  }
  const authRows = [...new Set(authEventIds)].map((auth_event_id) => ({
    event_id: row.event_id,
    auth_event_id,
  }));
  for (const batch of batches(authRows, MAX_ROWS_PER_INSERT)) {
    await trx.insertInto('event_auth_events').values(batch).execute();
  }
  return true;
}

/**
 * Turns a stored outlier into a regular event of the DAG: it gets a new stream position (it
 * becomes visible now) and the handling decided for it this time.
 */
export async function updateOutlierToEvent(
  trx: Kysely<Database>,
  eventId: string,
  changes: Pick<EventsTable, 'stream_ordering' | 'soft_failed' | 'rejected_reason'>,
): Promise<void> {
  await trx
    .updateTable('events')
    .set({ ...changes, outlier: 0 })
    .where('event_id', '=', eventId)
    .execute();
}

/** A stored event's PDU and the room it is in (whose version says how to read the PDU). */
export interface StoredPduRow {
  event_id: string;
  room_id: string;
  pdu: string;
}

/**
 * The PDUs of the stored events among `ids`, in no particular order. Only what reading them
 * takes: state resolution loads thousands at a time.
 */
export async function selectEventPdus(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<StoredPduRow[]> {
  const rows: StoredPduRow[] = [];
  for (const batch of batches([...new Set(ids)], MAX_IDS_PER_QUERY)) {
    rows.push(
      ...(await db
        .selectFrom('events')
        .select(['event_id', 'room_id', 'pdu'])
        .where('event_id', 'in', batch)
        .execute()),
    );
  }
  return rows;
}

/**
 * The `auth_events` of the stored events among `ids`, by event ID (each distinct ID once, in no
 * particular order; an empty list for an event without any). IDs not stored are left out. What
 * state resolution walks auth chains with, without reading PDUs.
 */
export async function selectAuthEventIds(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const batch of batches([...new Set(ids)], MAX_IDS_PER_QUERY)) {
    // From `events`, so that a stored event without auth events (a create event) is found too.
    const rows = await db
      .selectFrom('events')
      .leftJoin('event_auth_events', 'event_auth_events.event_id', 'events.event_id')
      .select(['events.event_id', 'event_auth_events.auth_event_id'])
      .where('events.event_id', 'in', batch)
      .execute();
    // Rows come grouped by event in practice: look the list up only when the event changes.
    let eventId: string | undefined;
    let authIds: string[] = [];
    for (const row of rows) {
      if (row.event_id !== eventId) {
        eventId = row.event_id;
        const known = found.get(eventId);
        if (known === undefined) found.set(eventId, (authIds = []));
        else authIds = known;
      }
      if (row.auth_event_id !== null) authIds.push(row.auth_event_id);
    }
  }
  return found;
}

/** The stored events among `ids`, without their PDUs. */
export async function selectEventMetadata(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<EventMetadataRow[]> {
  const rows: EventMetadataRow[] = [];
  for (const batch of batches([...new Set(ids)], MAX_IDS_PER_QUERY)) {
    rows.push(
      ...(await db
        .selectFrom('events')
        .select(METADATA_COLUMNS)
        .where('events.event_id', 'in', batch)
        .execute()),
    );
  }
  return rows;
}

/** The prev_events of a stored event (empty if it has none or is not stored). */
export async function selectPrevEventIds(db: Kysely<Database>, eventId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('event_prev_events')
    .select('prev_event_id')
    .where('event_id', '=', eventId)
    .execute();
  return rows.map((row) => row.prev_event_id);
}
