import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { TenantDatabase } from '../storage/tenant-database.js';
import { AccountData } from './account-data/account-data.js';
import { IgnoredUsers } from './account-data/ignored-users.js';
import { KeyBackup } from './key-backup/key-backup.js';
import { DeviceLists } from './devices/device-lists.js';
import { Devices } from './devices/devices.js';
import { ToDevice } from './devices/to-device.js';
import { Filters } from './filters/filters.js';
import { Login } from './login/login.js';
import { PasswordHasher, type PasswordHasherOptions } from './passwords/password-hasher.js';
import { Profiles } from './profiles/profiles.js';
import { PushRules } from './push/push-rules.js';
import { AccessTokens } from './tokens/access-tokens.js';
import { LoginTokens } from './tokens/login-tokens.js';
import { OpenidTokens } from './tokens/openid-tokens.js';
import { UserInteractiveAuth } from './user-interactive-auth/user-interactive-auth.js';
import { Registration } from './users/registration.js';
import { RegistrationTokens } from './users/registration-tokens.js';
import { SharedSecretRegistration } from './users/shared-secret-registration.js';
import { Users } from './users/users.js';
import type { TenantConfig } from './tenant-config.js';

/** The services of the accounts slice: users, sessions, devices, profiles, user data. */
export interface AccountServices {
  readonly passwords: PasswordHasher;
  readonly accessTokens: AccessTokens;
  readonly loginTokens: LoginTokens;
  readonly devices: Devices;
  readonly deviceLists: DeviceLists;
  readonly toDevice: ToDevice;
  readonly users: Users;
  readonly registrationTokens: RegistrationTokens;
  readonly uia: UserInteractiveAuth;
  readonly login: Login;
  readonly registration: Registration;
  readonly sharedSecretRegistration: SharedSecretRegistration;
  readonly profiles: Profiles;
  readonly accountData: AccountData;
  readonly ignoredUsers: IgnoredUsers;
  readonly filters: Filters;
  readonly pushRules: PushRules;
  /** Server-side key backups (`room_keys`). */
  readonly keyBackup: KeyBackup;
  /** OpenID tokens users hand to third parties (`/openid/request_token`, `/openid/userinfo`). */
  readonly openidTokens: OpenidTokens;
}

export interface AccountServicesDeps {
  config: TenantConfig;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  /** Cost and concurrency of password hashing (default: scrypt N=2^17, 2 at a time). */
  passwordHashing?: PasswordHasherOptions;
  /** Lifetime of access tokens that come with a refresh token (default 5 minutes). */
  refreshableAccessTokenLifetimeMs?: number;
}

/** Builds one tenant's account services, each given exactly what it depends on. */
export function createAccountServices(deps: AccountServicesDeps): AccountServices {
  const { config, db, clock, logger } = deps;
  const passwords = new PasswordHasher(deps.passwordHashing);
  const accessTokens = new AccessTokens(db, clock, {
    refreshableLifetimeMs: deps.refreshableAccessTokenLifetimeMs,
  });
  const loginTokens = new LoginTokens(db, clock);
  const deviceLists = new DeviceLists(db, logger);
  const devices = new Devices(db, clock, logger, deviceLists);
  const users = new Users(db, config.server_name, passwords, devices, logger);
  const registrationTokens = new RegistrationTokens(db, clock);
  const uia = new UserInteractiveAuth(db, clock, users, registrationTokens);
  const login = new Login(db, users, devices, accessTokens, loginTokens);
  const registration = new Registration(
    db,
    clock,
    { mode: config.registration_mode, allowGuests: config.allow_guest_access },
    users,
    passwords,
    login,
    uia,
  );
  const accountData = new AccountData(db, logger);
  const pushRules = new PushRules(db, accountData);
  users.deactivated.add(({ userId }) => pushRules.forgetUser(userId));
  const keyBackup = new KeyBackup(db);
  users.deactivated.add(({ userId }) => keyBackup.forgetUser(userId));
  const openidTokens = new OpenidTokens(db, clock, config.server_name);
  users.deactivated.add(({ userId }) => openidTokens.forgetUser(userId));
  return {
    openidTokens,
    passwords,
    accessTokens,
    loginTokens,
    devices,
    deviceLists,
    toDevice: new ToDevice(db, clock, config.server_name, logger),
    users,
    registrationTokens,
    uia,
    login,
    registration,
    sharedSecretRegistration: new SharedSecretRegistration(
      config.registration_shared_secret,
      clock,
      registration,
    ),
    profiles: new Profiles(db, logger),
    accountData,
    ignoredUsers: new IgnoredUsers(db, accountData),
    filters: new Filters(db),
    pushRules,
    keyBackup,
  };
}
