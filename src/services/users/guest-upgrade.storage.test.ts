import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import type { UserRegistrationRequest } from './registration.js';

const opened: TestAccountServices[] = [];

afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup(): Promise<TestAccountServices> {
  const t = await openAccountServices({ allow_guest_access: true, registration_mode: 'open' });
  opened.push(t);
  return t;
}

function request(extra: Partial<UserRegistrationRequest>): UserRegistrationRequest {
  return {
    password: 'member-password',
    inhibitLogin: false,
    refreshable: false,
    auth: { type: 'm.login.dummy' },
    ip: null,
    ...extra,
  };
}

describe('guest upgrade', () => {
  it('turns the guest into a full account with the same user ID and its password', async () => {
    const { services } = await setup();
    const guest = await services.registration.registerGuest({ ip: null });
    const localpart = guest.userId.slice(1, guest.userId.indexOf(':'));
    const upgraded = await services.registration.registerUser(
      request({ username: localpart.toUpperCase(), guestUserId: guest.userId }),
    );
    expect(upgraded.userId).toBe(guest.userId);
    expect(upgraded.session?.deviceId).not.toBe(guest.session?.deviceId);
    expect(await services.users.get(guest.userId)).toMatchObject({
      isGuest: false,
      hasPassword: true,
    });
    expect(await services.users.checkPassword(localpart, 'member-password')).toEqual({
      ok: true,
      userId: guest.userId,
    });
    // The guest's own token now authenticates a full user.
    const auth = await services.accessTokens.authenticate(
      guest.session?.accessToken as string,
      null,
    );
    expect(auth).toMatchObject({ userId: guest.userId, isGuest: false });
  });

  it('upgrades only once: a second upgrade of the same guest is M_USER_IN_USE', async () => {
    const { services } = await setup();
    const guest = await services.registration.registerGuest({ ip: null });
    const results = await Promise.allSettled([
      services.registration.registerUser(request({ guestUserId: guest.userId })),
      services.registration.registerUser(request({ guestUserId: guest.userId })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { errcode: 'M_USER_IN_USE' },
    });
  });

  it('with another username creates a separate account', async () => {
    const { services } = await setup();
    const guest = await services.registration.registerGuest({ ip: null });
    const created = await services.registration.registerUser(
      request({ username: 'someone', guestUserId: guest.userId }),
    );
    expect(created.userId).toBe('@someone:alpha.test');
    expect((await services.users.get(guest.userId))?.isGuest).toBe(true);
  });
});
