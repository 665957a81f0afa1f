import { randomBytes } from 'node:crypto';
import { nextSequenceValue } from '../../src/storage/room-graph/sequences.js';
import type { TenantDatabase } from '../../src/storage/tenant-database.js';

/**
 * Writes rooms, events and current memberships straight into a tenant database, for storage
 * tests of code that only reads them (receipts, presence). The events are minimal rows, not
 * real PDUs: nothing here goes through the room graph.
 */
export class StoredRooms {
  #next = 0;

  constructor(private readonly db: TenantDatabase) {}

  async createRoom(roomId: string, joined: readonly string[]): Promise<void> {
    await this.db.transact((trx) =>
      trx.insertInto('rooms').values({ room_id: roomId, room_version: '12' }).execute(),
    );
    for (const userId of joined) await this.setMembership(roomId, userId, 'join');
  }

  /** Stores a message event (or anything, with `options`); returns its ID. */
  async addEvent(
    roomId: string,
    sender: string,
    options: {
      type?: string;
      stateKey?: string;
      content?: Record<string, unknown>;
      outlier?: boolean;
      rejected?: boolean;
    } = {},
  ): Promise<string> {
    this.#next += 1;
    // The form of v4+ event IDs (a URL-safe base64 hash), random rather than computed.
    const eventId = `$${randomBytes(32).toString('base64url')}`;
    const type = options.type ?? 'm.room.message';
    const pdu = {
      type,
      room_id: roomId,
      sender,
      content: options.content ?? { msgtype: 'm.text', body: `message ${this.#next}` },
      ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }),
    };
    await this.db.transact(async (trx) => {
      const streamOrdering = await nextSequenceValue(trx, 'stream_ordering');
      await trx
        .insertInto('events')
        .values({
          event_id: eventId,
          room_id: roomId,
          type,
          state_key: options.stateKey ?? null,
          sender,
          depth: this.#next,
          origin_server_ts: 1_700_000_000_000 + this.#next,
          stream_ordering: streamOrdering,
          outlier: options.outlier === true ? 1 : 0,
          soft_failed: 0,
          rejected_reason: options.rejected === true ? 'test: rejected' : null,
          pdu: JSON.stringify(pdu),
        })
        .execute();
    });
    return eventId;
  }

  /** Stores a member event and makes it the user's current membership. */
  async setMembership(roomId: string, userId: string, membership: string): Promise<void> {
    const eventId = await this.addEvent(roomId, userId, {
      type: 'm.room.member',
      stateKey: userId,
      content: { membership },
    });
    await this.db.transact(async (trx) => {
      const row = await trx
        .selectFrom('events')
        .select('stream_ordering')
        .where('event_id', '=', eventId)
        .executeTakeFirstOrThrow();
      const values = {
        membership,
        event_id: eventId,
        stream_ordering: row.stream_ordering,
        sender: userId,
        displayname: null,
        avatar_url: null,
        last_join_stream_ordering: membership === 'join' ? row.stream_ordering : null,
      };
      await trx
        .insertInto('room_memberships')
        .values({ room_id: roomId, user_id: userId, ...values })
        .onConflict((oc) => oc.columns(['room_id', 'user_id']).doUpdateSet(values))
        .execute();
    });
  }
}
