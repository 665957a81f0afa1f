import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface AccountDataRecord {
  roomId: string;
  type: string;
  content: Record<string, unknown>;
  streamId: number;
}

/** Advances the tenant's account data stream; the value counts only if the transaction commits. */
export async function nextAccountDataStreamId(trx: Kysely<Database>): Promise<number> {
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '+', 1) }))
    .where('name', '=', 'account_data')
    .returning('last_value')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** The last position of the account data stream (0 when nothing was written). */
export async function currentAccountDataStreamId(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('sequences')
    .select('last_value')
    .where('name', '=', 'account_data')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** Sets one account data entry (room '' for global) at a new stream position; returns it. */
export async function upsertAccountData(
  trx: Kysely<Database>,
  userId: string,
  roomId: string,
  type: string,
  content: Record<string, unknown>,
): Promise<number> {
  const streamId = await nextAccountDataStreamId(trx);
  const json = JSON.stringify(content);
  await trx
    .insertInto('account_data')
    .values({ user_id: userId, room_id: roomId, type, content: json, stream_id: streamId })
    .onConflict((oc) =>
      oc
        .columns(['user_id', 'room_id', 'type'])
        .doUpdateSet({ content: json, stream_id: streamId }),
    )
    .execute();
  return streamId;
}

export async function selectAccountData(
  db: Kysely<Database>,
  userId: string,
  roomId: string,
  type: string,
): Promise<Record<string, unknown> | undefined> {
  const row = await db
    .selectFrom('account_data')
    .select('content')
    .where('user_id', '=', userId)
    .where('room_id', '=', roomId)
    .where('type', '=', type)
    .executeTakeFirst();
  return row === undefined ? undefined : (JSON.parse(row.content) as Record<string, unknown>);
}

/** A user's entries changed after stream position `since` (all of them for 0), oldest first. */
export async function selectAccountDataSince(
  db: Kysely<Database>,
  userId: string,
  since: number,
): Promise<AccountDataRecord[]> {
  const rows = await db
    .selectFrom('account_data')
    .selectAll()
    .where('user_id', '=', userId)
    .where('stream_id', '>', since)
    .orderBy('stream_id')
    .execute();
  return rows.map((row) => ({
    roomId: row.room_id,
    type: row.type,
    content: JSON.parse(row.content) as Record<string, unknown>,
    streamId: row.stream_id,
  }));
}

export async function deleteAccountDataOfUser(
  trx: Kysely<Database>,
  userId: string,
): Promise<void> {
  await trx.deleteFrom('account_data').where('user_id', '=', userId).execute();
}
