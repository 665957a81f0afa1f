import type { Kysely, Selectable } from 'kysely';
import type { Database, RefreshTokensTable } from '../schema.js';
import { deleteAccessTokensOfRefreshToken } from './access-tokens.js';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;

export interface NewRefreshToken {
  id: string;
  tokenHash: string;
  userId: string;
  deviceId: string;
  createdTs: number;
}

export async function insertRefreshToken(
  trx: Kysely<Database>,
  token: NewRefreshToken,
): Promise<void> {
  await trx
    .insertInto('refresh_tokens')
    .values({
      id: token.id,
      token_hash: token.tokenHash,
      user_id: token.userId,
      device_id: token.deviceId,
      next_token_id: null,
      created_ts: token.createdTs,
    })
    .execute();
}

/** Finds a refresh token by hash; `forUpdate` locks the row on PostgreSQL until commit. */
export async function selectRefreshToken(
  db: Kysely<Database>,
  tokenHash: string,
  options: { forUpdate?: boolean } = {},
): Promise<RefreshTokenRow | undefined> {
  return db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .$if(options.forUpdate === true, (qb) => qb.forUpdate())
    .executeTakeFirst();
}

export async function setNextRefreshToken(
  trx: Kysely<Database>,
  id: string,
  nextTokenId: string,
): Promise<void> {
  await trx
    .updateTable('refresh_tokens')
    .set({ next_token_id: nextTokenId })
    .where('id', '=', id)
    .execute();
}

/** Deletes a refresh token and the access tokens issued with it. */
export async function deleteRefreshToken(trx: Kysely<Database>, id: string): Promise<void> {
  await deleteAccessTokensOfRefreshToken(trx, id);
  await trx.deleteFrom('refresh_tokens').where('id', '=', id).execute();
}

/** Whether a refresh token was replaced by `id` and is still waiting to be retired. */
export async function hasPredecessor(db: Kysely<Database>, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('refresh_tokens')
    .select('id')
    .where('next_token_id', '=', id)
    .executeTakeFirst();
  return row !== undefined;
}

/** Retires the refresh tokens that `id` replaced, with their access tokens. */
export async function deletePredecessors(trx: Kysely<Database>, id: string): Promise<void> {
  const rows = await trx
    .selectFrom('refresh_tokens')
    .select('id')
    .where('next_token_id', '=', id)
    .execute();
  for (const row of rows) await deleteRefreshToken(trx, row.id);
}
