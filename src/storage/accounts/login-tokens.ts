import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export async function insertLoginToken(
  trx: Kysely<Database>,
  token: { tokenHash: string; userId: string; createdTs: number; expiresTs: number },
): Promise<void> {
  await trx
    .insertInto('login_tokens')
    .values({
      token_hash: token.tokenHash,
      user_id: token.userId,
      created_ts: token.createdTs,
      expires_ts: token.expiresTs,
    })
    .execute();
}

/**
 * Deletes a login token and returns its owner and expiry; undefined when there is no such token
 * (never issued, or used already: deleting makes it single-use even under concurrent logins).
 */
export async function takeLoginToken(
  trx: Kysely<Database>,
  tokenHash: string,
): Promise<{ user_id: string; expires_ts: number } | undefined> {
  return trx
    .deleteFrom('login_tokens')
    .where('token_hash', '=', tokenHash)
    .returning(['user_id', 'expires_ts'])
    .executeTakeFirst();
}

export async function deleteExpiredLoginTokens(trx: Kysely<Database>, now: number): Promise<void> {
  await trx.deleteFrom('login_tokens').where('expires_ts', '<=', now).execute();
}

export async function deleteLoginTokensOfUser(
  trx: Kysely<Database>,
  userId: string,
): Promise<void> {
  await trx.deleteFrom('login_tokens').where('user_id', '=', userId).execute();
}
