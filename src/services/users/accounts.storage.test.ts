import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import type { UiaAuthorisation } from '../user-interactive-auth/user-interactive-auth.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup(overrides: Parameters<typeof openAccountServices>[0] = {}) {
  const t = await openAccountServices({ registration_mode: 'open', ...overrides });
  opened.push(t);
  return t;
}

/** A completed dummy auth, as the endpoints obtain before acting. */
function dummyAuth(t: TestAccountServices, action: string, userId: string | null) {
  return t.services.uia.authorise({
    action,
    flows: [['m.login.dummy']],
    auth: { type: 'm.login.dummy' },
    userId,
  });
}

describe('Registration', () => {
  it('creates a user with a hashed password, a profile and a first session', async () => {
    const t = await setup();
    const { services, db } = t;
    const result = await services.registration.createAccount({
      localpart: 'alice',
      password: 'pw',
      isAdmin: false,
      isGuest: false,
      session: { refreshable: false, ip: '10.0.0.1', initialDeviceDisplayName: 'Phone' },
    });
    expect(result.userId).toBe('@alice:alpha.test');
    expect(result.session).toMatchObject({
      userId: '@alice:alpha.test',
      deviceId: expect.any(String),
    });
    const user = await db.read((d) =>
      d
        .selectFrom('users')
        .selectAll()
        .where('user_id', '=', '@alice:alpha.test')
        .executeTakeFirst(),
    );
    expect(user?.password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(await services.profiles.get(result.userId)).toEqual({ displayname: 'alice' });
    expect(await services.devices.list(result.userId)).toEqual([
      {
        device_id: result.session?.deviceId,
        display_name: 'Phone',
        last_seen_ip: '10.0.0.1',
        last_seen_ts: t.clock.now(),
      },
    ]);
  });

  it('validates and reserves usernames as Synapse does', async () => {
    const { services } = await setup();
    expect(await services.registration.checkUsername('Alice.Smith')).toBe('alice.smith');
    for (const bad of ['', 'with space', 'émile', '_bridge', '12345', 'x'.repeat(250), 'a:b']) {
      await expect(services.registration.checkUsername(bad)).rejects.toMatchObject({
        errcode: 'M_INVALID_USERNAME',
        status: 400,
      });
    }
    await services.registration.createAccount({
      localpart: 'alice',
      isAdmin: false,
      isGuest: false,
    });
    await expect(services.registration.checkUsername('ALICE')).rejects.toMatchObject({
      errcode: 'M_USER_IN_USE',
    });
  });

  it('lets exactly one of several concurrent registrations of a name succeed', async () => {
    const { services } = await setup();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        services.registration.createAccount({ localpart: 'dup', isAdmin: false, isGuest: false }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toMatchObject({ errcode: 'M_USER_IN_USE' });
    }
  });

  it('generates numeric localparts when none is asked for, and for guests', async () => {
    const { services } = await setup({ allow_guest_access: true });
    const user = await services.registration.createAccount({ isAdmin: false, isGuest: false });
    expect(user.userId).toMatch(/^@\d{10}:alpha\.test$/);
    const guest = await services.registration.registerGuest({ ip: null });
    expect(guest.userId).toMatch(/^@\d{10}:alpha\.test$/);
    expect((await services.users.get(guest.userId))?.isGuest).toBe(true);
    expect(await services.profiles.get(guest.userId)).toEqual({});
  });

  it('refuses guests unless allowed, and everything when closed', async () => {
    const closed = await setup({ registration_mode: 'closed' });
    await expect(closed.services.registration.registerGuest({ ip: null })).rejects.toMatchObject({
      errcode: 'M_GUEST_ACCESS_FORBIDDEN',
      status: 403,
    });
    await expect(
      closed.services.registration.registerUser({
        username: 'x',
        inhibitLogin: false,
        refreshable: false,
        auth: { type: 'm.login.dummy' },
        ip: null,
      }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
  });
});

describe('Users', () => {
  async function withAlice() {
    const t = await setup();
    const account = await t.services.registration.createAccount({
      localpart: 'alice',
      password: 'old-password',
      isAdmin: false,
      isGuest: false,
    });
    const session = (deviceId: string) =>
      t.db.transact((trx) =>
        t.services.login.startSession(trx, account.userId, {
          deviceId,
          refreshable: false,
          ip: null,
        }),
      );
    return { ...t, userId: account.userId, session };
  }

  it('checks passwords by localpart or user ID, ignoring case', async () => {
    const { services, userId } = await withAlice();
    for (const name of ['alice', 'ALICE', '@alice:alpha.test', '@Alice:ALPHA.test']) {
      expect(await services.users.checkPassword(name, 'old-password')).toEqual({
        ok: true,
        userId,
      });
    }
    expect(await services.users.checkPassword('alice', 'wrong')).toEqual({
      ok: false,
      reason: 'invalid',
    });
    expect(await services.users.checkPassword('@alice:other.test', 'old-password')).toEqual({
      ok: false,
      reason: 'invalid',
    });
    expect(await services.users.checkPassword('nobody', 'x')).toEqual({
      ok: false,
      reason: 'invalid',
    });
  });

  it('changes a password, logging out the other devices unless told not to', async () => {
    const t = await withAlice();
    const { services, userId, session } = t;
    const [keep, other] = [await session('KEEP'), await session('OTHER')];
    await services.users.changePassword(userId, 'new-password', {
      authorisation: await dummyAuth(t, 'p1', userId),
      logoutDevices: true,
      keepDeviceId: 'KEEP',
    });
    expect(await services.users.checkPassword('alice', 'new-password')).toMatchObject({ ok: true });
    expect(await services.users.checkPassword('alice', 'old-password')).toMatchObject({
      ok: false,
    });
    await services.accessTokens.authenticate(keep.accessToken, null);
    await expect(services.accessTokens.authenticate(other.accessToken, null)).rejects.toMatchObject(
      {
        errcode: 'M_UNKNOWN_TOKEN',
      },
    );
    expect((await services.devices.list(userId)).map((d) => d.device_id)).toEqual(['KEEP']);

    const third = await session('THIRD');
    await services.users.changePassword(userId, 'newer-password', {
      authorisation: await dummyAuth(t, 'p2', userId),
      logoutDevices: false,
    });
    await services.accessTokens.authenticate(third.accessToken, null);
    await expect(
      services.users.changePassword(userId, '', {
        authorisation: await dummyAuth(t, 'p3', userId),
        logoutDevices: false,
      }),
    ).rejects.toMatchObject({ errcode: 'M_WEAK_PASSWORD' });
  });

  it('deactivates: no password, no devices, no tokens; erase drops user data', async () => {
    const t = await withAlice();
    const { services, userId, session } = t;
    const s = await session('D1');
    await services.accountData.set(userId, null, 'org.example', { a: 1 });
    const deactivated: string[] = [];
    services.users.deactivated.add(({ userId: who }) => void deactivated.push(who));
    await services.users.deactivate(userId, {
      authorisation: await dummyAuth(t, 'deactivate', userId),
      erase: true,
    });
    expect(deactivated).toEqual([userId]);
    expect(await services.users.get(userId)).toMatchObject({
      deactivated: true,
      hasPassword: false,
    });
    expect(await services.devices.list(userId)).toEqual([]);
    await expect(services.accessTokens.authenticate(s.accessToken, null)).rejects.toMatchObject({
      errcode: 'M_UNKNOWN_TOKEN',
    });
    expect(await services.users.checkPassword('alice', 'old-password')).toEqual({
      ok: false,
      reason: 'deactivated',
      userId,
    });
    await expect(services.accountData.get(userId, null, 'org.example')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
    expect(await services.profiles.get(userId)).toEqual({});
  });

  it('rolls the whole change back when its auth session was used already', async () => {
    const t = await withAlice();
    const { services, userId, db } = t;
    const authorisation: UiaAuthorisation = await dummyAuth(t, 'x', userId);
    await db.transact((trx) => authorisation.commit(trx));
    await expect(
      services.users.changePassword(userId, 'other', { authorisation, logoutDevices: true }),
    ).rejects.toMatchObject({ status: 400 });
    expect(await services.users.checkPassword('alice', 'old-password')).toMatchObject({ ok: true });
  });
});

describe('Login', () => {
  it('logs in by password and by single-use login token', async () => {
    const t = await setup();
    const { services, db } = t;
    const { userId } = await services.registration.createAccount({
      localpart: 'alice',
      password: 'pw',
      isAdmin: false,
      isGuest: false,
    });
    const byPassword = await services.login.login(
      {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'pw',
      },
      { refreshable: true, ip: null },
    );
    expect(byPassword).toMatchObject({ userId, refreshToken: expect.any(String) });
    await expect(
      services.login.login(
        { type: 'm.login.password', user: 'alice', password: 'nope' },
        { refreshable: false, ip: null },
      ),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });

    const { token } = await db.transact((trx) => services.loginTokens.create(trx, userId));
    const byToken = await services.login.login(
      { type: 'm.login.token', token },
      { refreshable: false, ip: null },
    );
    expect(byToken.userId).toBe(userId);
    await expect(
      services.login.login({ type: 'm.login.token', token }, { refreshable: false, ip: null }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});
