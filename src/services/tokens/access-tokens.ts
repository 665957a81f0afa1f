import type { Clock } from '../../core/clock.js';
import { unknownToken } from '../../core/errors.js';
import {
  deleteAccessTokensOfRefreshToken,
  insertAccessToken,
  selectAccessTokenOwner,
} from '../../storage/accounts/access-tokens.js';
import { updateDeviceLastSeen } from '../../storage/accounts/devices.js';
import {
  deletePredecessors,
  deleteRefreshToken,
  hasPredecessor,
  insertRefreshToken,
  selectRefreshToken,
  setNextRefreshToken,
} from '../../storage/accounts/refresh-tokens.js';
import { selectUser } from '../../storage/accounts/users.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { generateToken, hashToken, MAX_TOKEN_LENGTH, randomId } from './secrets.js';

/** Who a request is from, once its access token is checked. */
export interface RequestAuth {
  readonly userId: string;
  readonly deviceId: string;
  readonly isGuest: boolean;
  readonly isAdmin: boolean;
}

/** Tokens handed to a client at login, registration or refresh. */
export interface IssuedTokens {
  accessToken: string;
  /** Only for clients that said they support refresh tokens. */
  refreshToken?: string;
  /** Lifetime of the access token; absent when it does not expire. */
  expiresInMs?: number;
}

/** Lifetime of access tokens that come with a refresh token (Synapse's default is 5 minutes). */
export const DEFAULT_REFRESHABLE_ACCESS_TOKEN_LIFETIME_MS = 5 * 60 * 1000;
/** A device's last-seen time and IP are written at most this often, not on every request. */
const LAST_SEEN_GRANULARITY_MS = 60 * 1000;

/**
 * Access and refresh tokens: issuing them, authenticating requests, refreshing. Only SHA-256
 * hashes are stored. An access token with a refresh token expires and is then answered with
 * `soft_logout: true`; one without never expires.
 */
export class AccessTokens {
  readonly refreshableLifetimeMs: number;

  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    options: { refreshableLifetimeMs?: number } = {},
  ) {
    this.refreshableLifetimeMs =
      options.refreshableLifetimeMs ?? DEFAULT_REFRESHABLE_ACCESS_TOKEN_LIFETIME_MS;
  }

  /**
   * Checks an access token. Unknown, logged out or of a deactivated user → 401 M_UNKNOWN_TOKEN;
   * expired → the same with `soft_logout: true` (the session can be refreshed or resumed).
   */
  async authenticate(token: string, ip: string | null): Promise<RequestAuth> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw unknownToken();
    const owner = await this.db.read((db) => selectAccessTokenOwner(db, hashToken(token)));
    if (owner === undefined || owner.deactivated === 1) throw unknownToken();
    const now = this.clock.now();
    if (owner.expires_ts !== null && owner.expires_ts <= now) {
      throw unknownToken('Access token has expired', owner.refresh_token_id !== null);
    }

    // Using a new access token retires the refresh token it replaced (spec: "The old refresh
    // token remains valid until the new access token or refresh token is used").
    const retire =
      owner.refresh_token_id !== null &&
      (await this.db.read((db) => hasPredecessor(db, owner.refresh_token_id as string)));
    const stale =
      owner.last_seen_ts === null ||
      now - owner.last_seen_ts >= LAST_SEEN_GRANULARITY_MS ||
      owner.last_seen_ip !== ip;
    if (retire || stale) {
      await this.db.transact(async (trx) => {
        if (retire) await deletePredecessors(trx, owner.refresh_token_id as string);
        if (stale) await updateDeviceLastSeen(trx, owner.user_id, owner.device_id, now, ip);
      });
    }
    return {
      userId: owner.user_id,
      deviceId: owner.device_id,
      isGuest: owner.is_guest === 1,
      isAdmin: owner.is_admin === 1,
    };
  }

  /** Issues an access token (and a refresh token when `refreshable`) for an existing device. */
  async issue(
    trx: Kysely<Database>,
    userId: string,
    deviceId: string,
    refreshable: boolean,
  ): Promise<IssuedTokens & { refreshTokenId?: string }> {
    const now = this.clock.now();
    const accessToken = generateToken('access');
    if (!refreshable) {
      await insertAccessToken(trx, {
        tokenHash: hashToken(accessToken),
        userId,
        deviceId,
        createdTs: now,
        expiresTs: null,
        refreshTokenId: null,
      });
      return { accessToken };
    }
    const refreshToken = generateToken('refresh');
    const refreshTokenId = randomId();
    await insertRefreshToken(trx, {
      id: refreshTokenId,
      tokenHash: hashToken(refreshToken),
      userId,
      deviceId,
      createdTs: now,
    });
    await insertAccessToken(trx, {
      tokenHash: hashToken(accessToken),
      userId,
      deviceId,
      createdTs: now,
      expiresTs: now + this.refreshableLifetimeMs,
      refreshTokenId,
    });
    return {
      accessToken,
      refreshToken,
      expiresInMs: this.refreshableLifetimeMs,
      refreshTokenId,
    };
  }

  /**
   * `POST /refresh`: a new access token and refresh token for the device of `refreshToken`. The
   * old access token stops working at once; the old refresh token keeps working until the new
   * tokens are first used, so a client that lost this response can simply refresh again.
   */
  async refresh(refreshToken: string): Promise<IssuedTokens> {
    if (refreshToken.length === 0 || refreshToken.length > MAX_TOKEN_LENGTH) {
      throw unknownToken('Unknown refresh token');
    }
    const tokenHash = hashToken(refreshToken);
    const issued = await this.db.transact(async (trx) => {
      const row = await selectRefreshToken(trx, tokenHash, {
        forUpdate: this.db.dialect === 'postgres',
      });
      if (row === undefined) throw unknownToken('Unknown refresh token');
      const user = await selectUser(trx, row.user_id);
      if (user === undefined || user.deactivated === 1) throw unknownToken('Unknown refresh token');
      // A replacement issued earlier but never used is dropped for the one issued now.
      if (row.next_token_id !== null) await deleteRefreshToken(trx, row.next_token_id);
      await deleteAccessTokensOfRefreshToken(trx, row.id);
      await deletePredecessors(trx, row.id);
      const next = await this.issue(trx, row.user_id, row.device_id, true);
      await setNextRefreshToken(trx, row.id, next.refreshTokenId as string);
      return next;
    });
    return {
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      expiresInMs: issued.expiresInMs,
    };
  }
}
