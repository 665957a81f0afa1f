import type { Kysely } from 'kysely';
import { MatrixError, badJson, forbidden, missingParam } from '../../core/errors.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { Devices } from '../devices/devices.js';
import type { AccessTokens, IssuedTokens } from '../tokens/access-tokens.js';
import type { LoginTokens } from '../tokens/login-tokens.js';
import type { UiaAuthorisation } from '../user-interactive-auth/user-interactive-auth.js';
import { userIdentifierOf } from '../users/user-identifier.js';
import type { Users } from '../users/users.js';

/** A logged-in session: its user, device and tokens. */
export interface Session extends IssuedTokens {
  userId: string;
  deviceId: string;
}

/** What a new session needs besides the user. */
export interface SessionOptions {
  /** Reuse (or create) this device; generated when absent. */
  deviceId?: string;
  /** Display name of a newly created device. */
  initialDeviceDisplayName?: string;
  /** The client supports refresh tokens. */
  refreshable: boolean;
  ip: string | null;
}

/** The body of `POST /login`, as received (stage-specific keys vary with `type`). */
export type LoginRequest = Record<string, unknown> & { type: string };

/**
 * Logging in (`m.login.password`, `m.login.token`) and opening sessions: a device plus an
 * access token (and a refresh token for clients that support them).
 */
export class Login {
  constructor(
    private readonly db: TenantDatabase,
    private readonly users: Users,
    private readonly devices: Devices,
    private readonly accessTokens: AccessTokens,
    private readonly loginTokens: LoginTokens,
  ) {}

  /** The body of `GET /login`. */
  flows(): { flows: Array<{ type: string; get_login_token?: boolean }> } {
    return {
      flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }],
    };
  }

  /**
   * Opens a session for `userId` inside the caller's transaction. A new device changes the
   * user's device list: after the commit, `login` calls `devices.announceOpened` (registration
   * needn't: a new account shares no room and has no other device to tell).
   */
  async startSession(
    trx: Kysely<Database>,
    userId: string,
    options: SessionOptions,
  ): Promise<Session> {
    const deviceId = await this.devices.open(trx, {
      userId,
      deviceId: options.deviceId,
      displayName: options.initialDeviceDisplayName,
      ip: options.ip,
    });
    const { accessToken, refreshToken, expiresInMs } = await this.accessTokens.issue(
      trx,
      userId,
      deviceId,
      options.refreshable,
    );
    return { userId, deviceId, accessToken, refreshToken, expiresInMs };
  }

  /**
   * `POST /login`. A wrong user or password is 403 M_FORBIDDEN (one message for both, so the
   * answer does not tell which accounts exist); a deactivated account is 403 M_USER_DEACTIVATED.
   */
  async login(request: LoginRequest, options: SessionOptions): Promise<Session> {
    switch (request.type) {
      case 'm.login.password': {
        const identifier = userIdentifierOf(request);
        const password = request['password'];
        if (password === undefined) throw missingParam('Missing password');
        if (typeof password !== 'string') throw badJson('password must be a string');
        if (identifier.type !== 'user') throw forbidden('Unknown third-party identifier');
        const check = await this.users.checkPassword(identifier.user, password);
        if (!check.ok && check.reason === 'deactivated') {
          throw new MatrixError('M_USER_DEACTIVATED', 'This account has been deactivated');
        }
        if (!check.ok) throw forbidden('Invalid username or password');
        const session = await this.db.transact((trx) =>
          this.startSession(trx, check.userId, options),
        );
        await this.devices.announceOpened(session.userId);
        return session;
      }
      case 'm.login.token': {
        const token = request['token'];
        if (token === undefined) throw missingParam('Missing token');
        if (typeof token !== 'string') throw badJson('token must be a string');
        const session = await this.db.transact(async (trx) => {
          const userId = await this.loginTokens.consume(trx, token);
          const user = await this.users.get(userId);
          if (user === undefined || user.deactivated) {
            throw new MatrixError('M_USER_DEACTIVATED', 'This account has been deactivated');
          }
          return this.startSession(trx, userId, options);
        });
        await this.devices.announceOpened(session.userId);
        return session;
      }
      default:
        throw new MatrixError('M_UNKNOWN', `Unknown login type ${request.type}`, { status: 400 });
    }
  }

  /** `POST /login/get_token`, after user-interactive auth: a single-use login token. */
  async createLoginToken(
    userId: string,
    authorisation: UiaAuthorisation,
  ): Promise<{ token: string; expiresInMs: number }> {
    return this.db.transact(async (trx) => {
      await authorisation.commit(trx);
      return this.loginTokens.create(trx, userId);
    });
  }
}
