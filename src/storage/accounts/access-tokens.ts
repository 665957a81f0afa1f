import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface NewAccessToken {
  tokenHash: string;
  userId: string;
  deviceId: string;
  createdTs: number;
  expiresTs: number | null;
  refreshTokenId: string | null;
}

export async function insertAccessToken(
  trx: Kysely<Database>,
  token: NewAccessToken,
): Promise<void> {
  await trx
    .insertInto('access_tokens')
    .values({
      token_hash: token.tokenHash,
      user_id: token.userId,
      device_id: token.deviceId,
      created_ts: token.createdTs,
      expires_ts: token.expiresTs,
      refresh_token_id: token.refreshTokenId,
    })
    .execute();
}

/** What authenticating a request needs, in one read: the token, its user and its device. */
export interface AccessTokenOwner {
  user_id: string;
  device_id: string;
  expires_ts: number | null;
  refresh_token_id: string | null;
  is_admin: number;
  is_guest: number;
  deactivated: number;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
}

export async function selectAccessTokenOwner(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<AccessTokenOwner | undefined> {
  return db
    .selectFrom('access_tokens')
    .innerJoin('users', 'users.user_id', 'access_tokens.user_id')
    .innerJoin('devices', (join) =>
      join
        .onRef('devices.user_id', '=', 'access_tokens.user_id')
        .onRef('devices.device_id', '=', 'access_tokens.device_id'),
    )
    .select([
      'access_tokens.user_id',
      'access_tokens.device_id',
      'access_tokens.expires_ts',
      'access_tokens.refresh_token_id',
      'users.is_admin',
      'users.is_guest',
      'users.deactivated',
      'devices.last_seen_ts',
      'devices.last_seen_ip',
    ])
    .where('access_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function deleteAccessTokensOfRefreshToken(
  trx: Kysely<Database>,
  refreshTokenId: string,
): Promise<void> {
  await trx.deleteFrom('access_tokens').where('refresh_token_id', '=', refreshTokenId).execute();
}
