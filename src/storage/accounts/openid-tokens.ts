import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export async function insertOpenidToken(
  trx: Kysely<Database>,
  token: { tokenHash: string; userId: string; expiresTs: number },
): Promise<void> {
  await trx
    .insertInto('openid_tokens')
    .values({ token_hash: token.tokenHash, user_id: token.userId, expires_ts: token.expiresTs })
    .execute();
}

/** The owner of an OpenID token still valid at `now`; undefined if unknown or expired. */
export async function selectOpenidTokenUser(
  db: Kysely<Database>,
  tokenHash: string,
  now: number,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('openid_tokens')
    .select('user_id')
    .where('token_hash', '=', tokenHash)
    .where('expires_ts', '>', now)
    .executeTakeFirst();
  return row?.user_id;
}

export async function deleteExpiredOpenidTokens(trx: Kysely<Database>, now: number): Promise<void> {
  await trx.deleteFrom('openid_tokens').where('expires_ts', '<=', now).execute();
}

export async function deleteOpenidTokensOfUser(
  trx: Kysely<Database>,
  userId: string,
): Promise<void> {
  await trx.deleteFrom('openid_tokens').where('user_id', '=', userId).execute();
}
