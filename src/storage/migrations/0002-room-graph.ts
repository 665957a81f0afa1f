import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * The room event graph: rooms, events (PDUs) with their prev and auth edges, forward extremities,
 * and room state stored as state groups (a snapshot or a delta against a previous group).
 * Flags are `integer` 0/1 rather than `boolean`: better-sqlite3 cannot bind JS booleans.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // On SQLite, tables keyed by a composite primary key are stored WITHOUT ROWID: clustered by
  // that key, with no second copy of it in a separate index (edges and state entries are most
  // of the rows). PostgreSQL has no such option and needs none.
  const clustered = isSqlite(db) ? sql`without rowid` : sql``;

  // Per-tenant counters (stream positions, state group IDs), advanced with `update … returning`
  // inside the writing transaction, so a position is never handed out twice and, on PostgreSQL,
  // the row lock orders writers by commit.
  await db.schema
    .createTable('sequences')
    .addColumn('name', 'text', (col) => col.primaryKey().notNull())
    .addColumn('last_value', 'bigint', (col) => col.notNull())
    .execute();
  await sql`insert into sequences (name, last_value) values ('stream_ordering', 0), ('state_group', 0)`.execute(
    db,
  );

  await db.schema
    .createTable('rooms')
    .addColumn('room_id', 'text', (col) => col.primaryKey().notNull())
    .addColumn('room_version', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('event_id', 'text', (col) => col.primaryKey().notNull())
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('state_key', 'text')
    .addColumn('sender', 'text', (col) => col.notNull())
    .addColumn('depth', 'bigint', (col) => col.notNull())
    .addColumn('origin_server_ts', 'bigint', (col) => col.notNull())
    .addColumn('stream_ordering', 'bigint', (col) => col.notNull().unique())
    .addColumn('outlier', 'integer', (col) => col.notNull())
    .addColumn('soft_failed', 'integer', (col) => col.notNull())
    .addColumn('rejected_reason', 'text')
    .addColumn('pdu', 'text', (col) => col.notNull())
    .execute();
  // A room's events in stream order: timelines and sync read them this way.
  await db.schema
    .createIndex('events_room_id_stream_ordering')
    .on('events')
    .columns(['room_id', 'stream_ordering'])
    .execute();

  // prev_event_id and auth_event_id may name events this server has not (yet) stored: no
  // foreign key on them.
  await db.schema
    .createTable('event_prev_events')
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.event_id'))
    .addColumn('prev_event_id', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('event_prev_events_pkey', ['event_id', 'prev_event_id'])
    .modifyEnd(clustered)
    .execute();
  // "Which stored events point at this one?": decides whether a late event is an extremity.
  await db.schema
    .createIndex('event_prev_events_prev_event_id')
    .on('event_prev_events')
    .column('prev_event_id')
    .execute();

  await db.schema
    .createTable('event_auth_events')
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.event_id'))
    .addColumn('auth_event_id', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('event_auth_events_pkey', ['event_id', 'auth_event_id'])
    .modifyEnd(clustered)
    .execute();

  await db.schema
    .createTable('event_forward_extremities')
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.event_id'))
    .addPrimaryKeyConstraint('event_forward_extremities_pkey', ['room_id', 'event_id'])
    .modifyEnd(clustered)
    .execute();

  // A state group is a full room state: a snapshot (prev_state_group null, every entry stored)
  // or a delta against prev_state_group. delta_rows / chain_length count what was stored since
  // the snapshot at the root of the chain, snapshot_rows that snapshot's size: together they
  // decide when the next group is a snapshot again.
  await db.schema
    .createTable('state_groups')
    .addColumn('state_group', 'bigint', (col) => col.primaryKey().notNull())
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addColumn('prev_state_group', 'bigint', (col) => col.references('state_groups.state_group'))
    .addColumn('chain_length', 'integer', (col) => col.notNull())
    .addColumn('delta_rows', 'bigint', (col) => col.notNull())
    .addColumn('snapshot_rows', 'bigint', (col) => col.notNull())
    .execute();

  // One row per (type, state_key) the group sets; in a delta, event_id null means "removed".
  await db.schema
    .createTable('state_group_entries')
    .addColumn('state_group', 'bigint', (col) =>
      col.notNull().references('state_groups.state_group'),
    )
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('state_key', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text')
    .addPrimaryKeyConstraint('state_group_entries_pkey', ['state_group', 'type', 'state_key'])
    .modifyEnd(clustered)
    .execute();

  // The state AFTER each non-outlier event. For an accepted state event, replaces_state is the
  // event its (type, state_key) held just before (null: none), so the state before any stored
  // event is exact without resolving its prev_events again (which may not even be stored).
  await db.schema
    .createTable('event_to_state_group')
    .addColumn('event_id', 'text', (col) =>
      col.primaryKey().notNull().references('events.event_id'),
    )
    .addColumn('state_group', 'bigint', (col) =>
      col.notNull().references('state_groups.state_group'),
    )
    .addColumn('replaces_state', 'text')
    .execute();
}

/** Kysely has no public way to ask the dialect; SQLite is the one with `?` placeholders here. */
function isSqlite(db: Kysely<unknown>): boolean {
  return sql`${0}`.compile(db).sql === '?';
}
