/** Cached verify keys of other servers (see migrations/0012-federation.ts). */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface StoredRemoteKey {
  serverName: string;
  keyId: string;
  publicKey: string;
  validUntilTs: number;
  /** Set for old keys. */
  expiredTs: number | null;
  fetchedTs: number;
  /** The server's signed key document (JSON text). */
  keyResponse: string;
}

/** The cached keys of a server (all of them, or those with the given IDs). */
export async function selectRemoteKeys(
  db: Kysely<Database>,
  serverName: string,
  keyIds?: readonly string[],
): Promise<StoredRemoteKey[]> {
  let query = db.selectFrom('remote_server_keys').selectAll().where('server_name', '=', serverName);
  if (keyIds !== undefined) {
    if (keyIds.length === 0) return [];
    query = query.where('key_id', 'in', [...keyIds]);
  }
  const rows = await query.execute();
  return rows.map((row) => ({
    serverName: row.server_name,
    keyId: row.key_id,
    publicKey: row.public_key,
    validUntilTs: Number(row.valid_until_ts),
    expiredTs: row.expired_ts === null ? null : Number(row.expired_ts),
    fetchedTs: Number(row.fetched_ts),
    keyResponse: row.key_response,
  }));
}

/** Stores keys, replacing what was cached for the same server and key IDs. */
export async function upsertRemoteKeys(
  db: Kysely<Database>,
  keys: readonly StoredRemoteKey[],
): Promise<void> {
  for (const key of keys) {
    const row = {
      server_name: key.serverName,
      key_id: key.keyId,
      public_key: key.publicKey,
      valid_until_ts: key.validUntilTs,
      expired_ts: key.expiredTs,
      fetched_ts: key.fetchedTs,
      key_response: key.keyResponse,
    };
    await db
      .insertInto('remote_server_keys')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['server_name', 'key_id']).doUpdateSet({
          public_key: row.public_key,
          valid_until_ts: row.valid_until_ts,
          expired_ts: row.expired_ts,
          fetched_ts: row.fetched_ts,
          key_response: row.key_response,
        }),
      )
      .execute();
  }
}
