import type { Kysely } from 'kysely';
import { sql } from 'kysely';

/**
 * Federation: the signing keys of other servers (fetched directly or through notaries), the
 * transactions received from other servers (so a retried `PUT /send/{txnId}` is answered as
 * the first), and the outbound queue: what each destination still has to be sent, in order,
 * with its backoff, so that outbound work survives restarts, hibernation and moves.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per key of another server. `key_response` is the server's own signed key document
  // the key came from, served again (with our signature added) by the notary endpoints.
  await db.schema
    .createTable('remote_server_keys')
    .addColumn('server_name', 'text', (col) => col.notNull())
    .addColumn('key_id', 'text', (col) => col.notNull())
    .addColumn('public_key', 'text', (col) => col.notNull())
    // `valid_until_ts` of the document the key was last seen in (current keys).
    .addColumn('valid_until_ts', 'bigint', (col) => col.notNull())
    // Set for keys listed in `old_verify_keys`: signatures made after it are not accepted.
    .addColumn('expired_ts', 'bigint')
    .addColumn('fetched_ts', 'bigint', (col) => col.notNull())
    .addColumn('key_response', 'text', (col) => col.notNull())
    .addPrimaryKeyConstraint('remote_server_keys_pkey', ['server_name', 'key_id'])
    .execute();

  // `PUT /send/{txnId}` is idempotent per origin and transaction ID; old rows are pruned by age.
  await db.schema
    .createTable('federation_inbound_txns')
    .addColumn('origin', 'text', (col) => col.notNull())
    .addColumn('txn_id', 'text', (col) => col.notNull())
    // The JSON body answered the first time.
    .addColumn('response', 'text', (col) => col.notNull())
    .addColumn('received_ts', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('federation_inbound_txns_pkey', ['origin', 'txn_id'])
    .execute();

  // One row per destination this server has sent to (or has to): its backoff state.
  await db.schema
    .createTable('federation_destinations')
    .addColumn('destination', 'text', (col) => col.primaryKey().notNull())
    // Consecutive failed attempts; 0 once a transaction went through.
    .addColumn('failures', 'integer', (col) => col.notNull())
    // No attempt before this time (ms since the epoch); 0: now.
    .addColumn('retry_at_ts', 'bigint', (col) => col.notNull())
    .addColumn('last_success_ts', 'bigint')
    .addColumn('last_error', 'text')
    .execute();

  // What each destination still has to be sent, in queue order (`queue_id`, from the
  // `federation_outbound` sequence): PDUs by event ID (the PDU itself is in `events`), EDUs
  // with their content. Rows go once the destination accepted the transaction carrying them.
  await db.schema
    .createTable('federation_outbound')
    .addColumn('destination', 'text', (col) => col.notNull())
    .addColumn('queue_id', 'bigint', (col) => col.notNull())
    // `pdu` or `edu`.
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text')
    .addColumn('edu_type', 'text')
    // The EDU's content as JSON text.
    .addColumn('content', 'text')
    .addPrimaryKeyConstraint('federation_outbound_pkey', ['destination', 'queue_id'])
    .execute();

  await sql`insert into sequences (name, last_value) values ('federation_outbound', 0)`.execute(db);
}
