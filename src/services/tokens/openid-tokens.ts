/**
 * OpenID tokens (client-server "OpenID", server-server "OpenID"): a user asks for one
 * (`POST /user/{userId}/openid/request_token`) and hands it to a third party (an integration
 * manager, a widget), which asks this server whose it is (`GET /_matrix/federation/v1/openid/
 * userinfo`). A token is good for nothing else — not as an access token — and lasts an hour.
 * Only its SHA-256 is stored; expired tokens are deleted when new ones are made.
 */

import type { Clock } from '../../core/clock.js';
import {
  deleteExpiredOpenidTokens,
  deleteOpenidTokensOfUser,
  insertOpenidToken,
  selectOpenidTokenUser,
} from '../../storage/accounts/openid-tokens.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { MAX_TOKEN_LENGTH, hashToken, randomId } from './secrets.js';

/** Synapse's and the spec example's lifetime: an hour. */
export const OPENID_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

/** Recognisable like Marina's other secrets (see `TOKEN_PREFIXES`). */
const OPENID_TOKEN_PREFIX = 'marina_oi_';

/** The answer of `request_token`. */
export interface OpenidToken {
  access_token: string;
  token_type: 'Bearer';
  matrix_server_name: string;
  expires_in: number;
}

export class OpenidTokens {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly serverName: string,
    readonly lifetimeMs = OPENID_TOKEN_LIFETIME_MS,
  ) {}

  /** A new token for `userId` (a local user the caller authenticated). */
  async issue(userId: string): Promise<OpenidToken> {
    const now = this.clock.now();
    const token = OPENID_TOKEN_PREFIX + randomId(32);
    await this.db.transact(async (trx) => {
      await deleteExpiredOpenidTokens(trx, now);
      await insertOpenidToken(trx, {
        tokenHash: hashToken(token),
        userId,
        expiresTs: now + this.lifetimeMs,
      });
    });
    return {
      access_token: token,
      token_type: 'Bearer',
      matrix_server_name: this.serverName,
      expires_in: Math.floor(this.lifetimeMs / 1000),
    };
  }

  /** Whose the token is; undefined for an unknown or expired one. */
  async userOf(token: string): Promise<string | undefined> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const now = this.clock.now();
    return this.db.read((db) => selectOpenidTokenUser(db, hashToken(token), now));
  }

  /** A deactivated user's tokens stop working. */
  async forgetUser(userId: string): Promise<void> {
    await this.db.transact((trx) => deleteOpenidTokensOfUser(trx, userId));
  }
}
