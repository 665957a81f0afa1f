import type { Kysely } from 'kysely';
import type { Clock } from '../../core/clock.js';
import { forbidden } from '../../core/errors.js';
import {
  deleteExpiredLoginTokens,
  insertLoginToken,
  takeLoginToken,
} from '../../storage/accounts/login-tokens.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { generateToken, hashToken, MAX_TOKEN_LENGTH } from './secrets.js';

/** The spec's recommended lifetime for `POST /login/get_token` tokens: 2 minutes. */
export const LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000;

/** Single-use, short-lived `m.login.token` tokens. */
export class LoginTokens {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    readonly lifetimeMs = LOGIN_TOKEN_LIFETIME_MS,
  ) {}

  /** Creates a token for `userId` inside the caller's transaction. */
  async create(
    trx: Kysely<Database>,
    userId: string,
  ): Promise<{ token: string; expiresInMs: number }> {
    const now = this.clock.now();
    await deleteExpiredLoginTokens(trx, now);
    const token = generateToken('login');
    await insertLoginToken(trx, {
      tokenHash: hashToken(token),
      userId,
      createdTs: now,
      expiresTs: now + this.lifetimeMs,
    });
    return { token, expiresInMs: this.lifetimeMs };
  }

  /**
   * Uses a login token up and returns its user; 403 M_FORBIDDEN when it is unknown, used or
   * expired (spec: "In the case that the token is not valid … 403 Forbidden … M_FORBIDDEN").
   * Runs inside the caller's transaction, so a login that fails later leaves the token unused.
   */
  async consume(trx: Kysely<Database>, token: string): Promise<string> {
    const invalid = () => forbidden('Invalid or expired login token');
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
    const row = await takeLoginToken(trx, hashToken(token));
    if (row === undefined || row.expires_ts <= this.clock.now()) throw invalid();
    return row.user_id;
  }
}
