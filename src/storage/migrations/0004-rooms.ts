import type { Kysely } from 'kysely';

/**
 * The rooms slice of the client-server API: each local room's current memberships (kept in the
 * transaction that stores the member event), transaction IDs of sent events, room aliases, the
 * published room directory, forgotten rooms and the redactions that apply to events.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // The current membership of each user in each room: the `m.room.member` event the room state
  // holds for them. `last_join_stream_ordering` is the position of their latest join, for the
  // `shared` history visibility rule ("joined at any point after the event").
  await db.schema
    .createTable('room_memberships')
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('membership', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.event_id'))
    .addColumn('stream_ordering', 'bigint', (col) => col.notNull())
    .addColumn('sender', 'text', (col) => col.notNull())
    .addColumn('displayname', 'text')
    .addColumn('avatar_url', 'text')
    .addColumn('last_join_stream_ordering', 'bigint')
    .addPrimaryKeyConstraint('room_memberships_pkey', ['room_id', 'user_id'])
    .execute();
  // "Which rooms is this user joined to / invited to?" (`/joined_rooms`, sync, profile changes).
  await db.schema
    .createIndex('room_memberships_user_id_membership')
    .on('room_memberships')
    .columns(['user_id', 'membership'])
    .execute();

  // Idempotent sends: one event per (user, device, endpoint, transaction ID). The spec scopes a
  // transaction ID to a device and an endpoint path: `scope` is the path without the ID, e.g.
  // `/rooms/!r:s/send/m.room.message`, so the same ID sent to another room is a new request.
  await db.schema
    .createTable('event_txn_ids')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('scope', 'text', (col) => col.notNull())
    .addColumn('txn_id', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.event_id'))
    .addColumn('room_id', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('event_txn_ids_pkey', ['user_id', 'device_id', 'scope', 'txn_id'])
    .execute();
  // Serving an event to its sender's device adds `unsigned.transaction_id`.
  await db.schema
    .createIndex('event_txn_ids_event_id')
    .on('event_txn_ids')
    .column('event_id')
    .execute();

  await db.schema
    .createTable('room_aliases')
    .addColumn('room_alias', 'text', (col) => col.primaryKey().notNull())
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addColumn('creator', 'text', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('room_aliases_room_id')
    .on('room_aliases')
    .column('room_id')
    .execute();

  // Rooms published in this server's room directory (`public`); a room without a row, or with
  // `private`, is not listed.
  await db.schema
    .createTable('room_directory')
    .addColumn('room_id', 'text', (col) => col.primaryKey().notNull().references('rooms.room_id'))
    .addColumn('visibility', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('forgotten_rooms')
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('room_id', 'text', (col) => col.notNull().references('rooms.room_id'))
    .addPrimaryKeyConstraint('forgotten_rooms_pkey', ['user_id', 'room_id'])
    .execute();

  // Accepted redaction events and the event each redacts (which may not be stored yet).
  await db.schema
    .createTable('redactions')
    .addColumn('event_id', 'text', (col) =>
      col.primaryKey().notNull().references('events.event_id'),
    )
    .addColumn('redacts', 'text', (col) => col.notNull())
    .addColumn('room_id', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('redactions_redacts').on('redactions').column('redacts').execute();

  // `/timestamp_to_event` looks events up by time within a room.
  await db.schema
    .createIndex('events_room_id_origin_server_ts')
    .on('events')
    .columns(['room_id', 'origin_server_ts'])
    .execute();
}
