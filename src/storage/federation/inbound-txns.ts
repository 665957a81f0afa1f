/** Transactions received from other servers, and what they were answered (see 0012-federation). */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** The JSON text answered to `origin`'s transaction `txnId`, if it was received before. */
export async function selectInboundTxnResponse(
  db: Kysely<Database>,
  origin: string,
  txnId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('federation_inbound_txns')
    .select('response')
    .where('origin', '=', origin)
    .where('txn_id', '=', txnId)
    .executeTakeFirst();
  return row?.response;
}

/** Records the answer to a transaction (a second record of the same one keeps the first). */
export async function insertInboundTxn(
  db: Kysely<Database>,
  row: { origin: string; txnId: string; response: string; receivedTs: number },
): Promise<void> {
  await db
    .insertInto('federation_inbound_txns')
    .values({
      origin: row.origin,
      txn_id: row.txnId,
      response: row.response,
      received_ts: row.receivedTs,
    })
    .onConflict((oc) => oc.columns(['origin', 'txn_id']).doNothing())
    .execute();
}

/** Forgets transactions received before `beforeTs`. */
export async function deleteInboundTxnsBefore(
  db: Kysely<Database>,
  beforeTs: number,
): Promise<void> {
  await db.deleteFrom('federation_inbound_txns').where('received_ts', '<', beforeTs).execute();
}
