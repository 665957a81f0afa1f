import { randomInt } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { forbidden, guestAccessForbidden, invalidUsername, userInUse } from '../../core/errors.js';
import { isValidLocalpart, MAX_IDENTIFIER_BYTES, parseUserId } from '../../core/identifiers.js';
import { insertProfile } from '../../storage/accounts/profiles.js';
import {
  insertUser,
  selectUsersIgnoringCase,
  upgradeGuestUser,
} from '../../storage/accounts/users.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { checkDeviceId } from '../devices/devices.js';
import type { Login, Session, SessionOptions } from '../login/login.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import {
  STAGE_DUMMY,
  STAGE_REGISTRATION_TOKEN,
  type AuthData,
  type UiaAuthorisation,
  type UserInteractiveAuth,
} from '../user-interactive-auth/user-interactive-auth.js';
import { checkNewPassword, type Users } from './users.js';

export type RegistrationMode = 'open' | 'token' | 'closed';

export interface RegistrationSettings {
  mode: RegistrationMode;
  allowGuests: boolean;
}

/** A new account, and its first session unless login was inhibited. */
export interface RegistrationResult {
  userId: string;
  session?: Session;
}

/** `POST /register` (kind=user), as the endpoint received it. */
export interface UserRegistrationRequest {
  username?: string;
  password?: string;
  deviceId?: string;
  initialDeviceDisplayName?: string;
  inhibitLogin: boolean;
  refreshable: boolean;
  auth: AuthData | null | undefined;
  ip: string | null;
  /**
   * The guest whose access token came with the request (spec: "Guest Access"): registering
   * under its localpart, or with no username, upgrades that guest instead of creating a user.
   */
  guestUserId?: string;
}

/** What every way of creating an account (register, guest, shared secret) comes down to. */
export interface NewAccount {
  /** Validated already (`checkUsername`); generated when absent. */
  localpart?: string;
  password?: string;
  isAdmin: boolean;
  isGuest: boolean;
  /** Default: the localpart, for non-guests. */
  displayname?: string;
  /** Opens a first session; absent: inhibit_login. */
  session?: SessionOptions;
  /** A completed user-interactive auth, used up in the same transaction. */
  authorisation?: UiaAuthorisation;
}

const GENERATED_LOCALPART_MIN = 1_000_000_000;
const GENERATED_LOCALPART_MAX = 10_000_000_000;
const GENERATION_ATTEMPTS = 20;

/**
 * Registration of accounts: open (`m.login.dummy`), by token (`m.login.registration_token`) or
 * closed, guests when allowed, and the account creation the shared-secret admin API also uses.
 */
export class Registration {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    readonly settings: RegistrationSettings,
    private readonly users: Users,
    private readonly hasher: PasswordHasher,
    private readonly login: Login,
    private readonly uia: UserInteractiveAuth,
  ) {}

  /** The user-interactive auth flows of `POST /register` in this tenant's mode. */
  flows(): string[][] {
    switch (this.settings.mode) {
      case 'open':
        return [[STAGE_DUMMY]];
      case 'token':
        return [[STAGE_REGISTRATION_TOKEN]];
      case 'closed':
        return [];
    }
  }

  /**
   * Maps a requested username onto a localpart (lower case, as Synapse does) and checks it is
   * valid (M_INVALID_USERNAME) and free (M_USER_IN_USE).
   */
  async checkUsername(username: string): Promise<string> {
    const localpart = username.replace(/[A-Z]/g, (c) => c.toLowerCase());
    if (localpart === '') throw invalidUsername('Username is empty');
    if (!isValidLocalpart(localpart)) {
      throw invalidUsername('Username may only contain a-z, 0-9, ".", "_", "=", "-", "/" and "+"');
    }
    // Synapse reserves these: "_" starts application service users, digits are generated IDs.
    if (localpart.startsWith('_')) throw invalidUsername('Username may not start with "_"');
    if (/^\d+$/.test(localpart)) {
      throw invalidUsername('Numeric usernames are reserved for generated accounts');
    }
    const userId = this.users.userIdOf(localpart);
    if (Buffer.byteLength(userId, 'utf8') > MAX_IDENTIFIER_BYTES) {
      throw invalidUsername(`The user ID would be longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    }
    if ((await this.users.resolve(userId)) !== undefined) throw userInUse();
    return localpart;
  }

  /**
   * `POST /register` with kind=user. The username, password and device are checked before
   * user-interactive auth, as the spec requires, and the username again when the account is
   * created (someone may have taken it in between).
   */
  async registerUser(request: UserRegistrationRequest): Promise<RegistrationResult> {
    if (this.settings.mode === 'closed') throw forbidden('Registration is disabled');
    const upgrading = this.#isGuestUpgrade(request);
    const localpart =
      request.username === undefined || upgrading
        ? undefined
        : await this.checkUsername(request.username);
    if (request.password !== undefined) checkNewPassword(request.password);
    if (request.deviceId !== undefined) checkDeviceId(request.deviceId);
    const authorisation = await this.uia.authorise({
      action: 'POST /register',
      flows: this.flows(),
      auth: request.auth,
      userId: null,
    });
    const session: SessionOptions | undefined = request.inhibitLogin
      ? undefined
      : {
          deviceId: request.deviceId,
          initialDeviceDisplayName: request.initialDeviceDisplayName,
          refreshable: request.refreshable,
          ip: request.ip,
        };
    if (upgrading) {
      return this.#upgradeGuest(request.guestUserId as string, {
        password: request.password,
        authorisation,
        session,
      });
    }
    return this.createAccount({
      localpart,
      password: request.password,
      isAdmin: false,
      isGuest: false,
      authorisation,
      session,
    });
  }

  /** A guest registering under its own localpart (lower-cased as usernames are), or none. */
  #isGuestUpgrade(request: UserRegistrationRequest): boolean {
    if (request.guestUserId === undefined) return false;
    if (request.username === undefined) return true;
    const requested = request.username.replace(/[A-Z]/g, (c) => c.toLowerCase());
    return requested === parseUserId(request.guestUserId).localpart;
  }

  /**
   * Guest upgrade, as Synapse does it: the same user ID becomes a full account with the given
   * password, keeping its rooms, devices and profile; a new session opens unless login is
   * inhibited. A guest upgraded (or deactivated) meanwhile is 400 M_USER_IN_USE.
   */
  async #upgradeGuest(
    userId: string,
    upgrade: { password?: string; authorisation: UiaAuthorisation; session?: SessionOptions },
  ): Promise<RegistrationResult> {
    const passwordHash =
      upgrade.password === undefined ? null : await this.hasher.hash(upgrade.password);
    return this.db.transact(async (trx) => {
      await upgrade.authorisation.commit(trx);
      if (!(await upgradeGuestUser(trx, userId, passwordHash))) throw userInUse();
      const session = upgrade.session
        ? await this.login.startSession(trx, userId, upgrade.session)
        : undefined;
      return { userId, session };
    });
  }

  /**
   * `POST /register` with kind=guest: refused with 403 M_GUEST_ACCESS_FORBIDDEN unless the
   * tenant allows guests. Every field but `initial_device_display_name` is ignored (spec).
   */
  async registerGuest(request: {
    initialDeviceDisplayName?: string;
    ip: string | null;
  }): Promise<RegistrationResult> {
    if (!this.settings.allowGuests) throw guestAccessForbidden('Guest access is disabled');
    return this.createAccount({
      isAdmin: false,
      isGuest: true,
      session: {
        initialDeviceDisplayName: request.initialDeviceDisplayName,
        refreshable: false,
        ip: request.ip,
      },
    });
  }

  /** Creates an account (and its first session) in one transaction. */
  async createAccount(account: NewAccount): Promise<RegistrationResult> {
    if (account.password !== undefined) checkNewPassword(account.password);
    const passwordHash =
      account.password === undefined ? null : await this.hasher.hash(account.password);
    const createdTs = this.clock.now();
    return this.db.transact(async (trx) => {
      await account.authorisation?.commit(trx);
      const insert = async (userId: string) =>
        (await selectUsersIgnoringCase(trx, userId)).length === 0 &&
        (await insertUser(trx, {
          userId,
          passwordHash,
          isAdmin: account.isAdmin,
          isGuest: account.isGuest,
          createdTs,
        }));

      let userId: string | undefined;
      let localpart = account.localpart;
      if (localpart !== undefined) {
        userId = this.users.userIdOf(localpart);
        if (!(await insert(userId))) throw userInUse();
      } else {
        for (let attempt = 0; userId === undefined && attempt < GENERATION_ATTEMPTS; attempt++) {
          const candidate = String(randomInt(GENERATED_LOCALPART_MIN, GENERATED_LOCALPART_MAX));
          if (await insert(this.users.userIdOf(candidate))) {
            localpart = candidate;
            userId = this.users.userIdOf(candidate);
          }
        }
        if (userId === undefined) throw new Error('could not generate a free user ID');
      }
      const displayname = account.displayname ?? (account.isGuest ? null : (localpart as string));
      await insertProfile(trx, userId, displayname);
      const session = account.session
        ? await this.login.startSession(trx, userId, account.session)
        : undefined;
      return { userId, session };
    });
  }
}
