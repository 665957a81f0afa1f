import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import type { MatrixError } from '../../core/errors.js';
import { hashToken } from './secrets.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup() {
  const t = await openAccountServices({ registration_mode: 'open' });
  opened.push(t);
  const { services } = t;
  const account = await services.registration.createAccount({
    localpart: 'alice',
    password: 'secret',
    isAdmin: false,
    isGuest: false,
  });
  const open = (refreshable: boolean, deviceId?: string) =>
    t.db.transact((trx) =>
      services.login.startSession(trx, account.userId, { refreshable, deviceId, ip: '10.0.0.1' }),
    );
  return { ...t, userId: account.userId, open };
}

async function errorOf(promise: Promise<unknown>): Promise<MatrixError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: MatrixError) => error,
  );
}

describe('AccessTokens', () => {
  it('issues prefixed random tokens and stores only their hashes', async () => {
    const { services, db, open, userId } = await setup();
    const session = await open(false);
    expect(session.accessToken).toMatch(/^marina_at_[A-Za-z0-9_-]{43}$/);
    expect(session.refreshToken).toBeUndefined();
    const rows = await db.read((d) => d.selectFrom('access_tokens').selectAll().execute());
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(hashToken(session.accessToken));
    expect(JSON.stringify(rows)).not.toContain(session.accessToken);
    expect(await services.accessTokens.authenticate(session.accessToken, '10.0.0.1')).toEqual({
      userId,
      deviceId: session.deviceId,
      isGuest: false,
      isAdmin: false,
    });
  });

  it('refuses unknown tokens, and tokens of deactivated users, without soft logout', async () => {
    const { services, open, db, userId } = await setup();
    const unknown = await errorOf(services.accessTokens.authenticate('marina_at_nope', null));
    expect(unknown.toJSON()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: false });
    const session = await open(false);
    await db.transact((trx) =>
      trx.updateTable('users').set({ deactivated: 1 }).where('user_id', '=', userId).execute(),
    );
    const deactivated = await errorOf(
      services.accessTokens.authenticate(session.accessToken, null),
    );
    expect(deactivated.status).toBe(401);
    expect(deactivated.toJSON()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: false });
  });

  it('expires refreshable tokens with soft_logout, and refreshes them', async () => {
    const { services, open, clock } = await setup();
    const session = await open(true);
    expect(session.expiresInMs).toBe(services.accessTokens.refreshableLifetimeMs);
    clock.advance(session.expiresInMs as number);
    const expired = await errorOf(services.accessTokens.authenticate(session.accessToken, null));
    expect(expired.toJSON()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: true });

    const next = await services.accessTokens.refresh(session.refreshToken as string);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect((await services.accessTokens.authenticate(next.accessToken, null)).deviceId).toBe(
      session.deviceId,
    );
  });

  it('keeps the old refresh token until the new tokens are used, then revokes it', async () => {
    const { services, open } = await setup();
    const first = await open(true);
    const lost = await services.accessTokens.refresh(first.refreshToken as string);
    // The client never saw `lost`: it refreshes again with the old token, which still works,
    // and the replacement it never received stops working.
    const second = await services.accessTokens.refresh(first.refreshToken as string);
    await expect(services.accessTokens.authenticate(lost.accessToken, null)).rejects.toMatchObject({
      errcode: 'M_UNKNOWN_TOKEN',
    });
    // The old access token stopped working at the first refresh.
    await expect(services.accessTokens.authenticate(first.accessToken, null)).rejects.toMatchObject(
      { errcode: 'M_UNKNOWN_TOKEN' },
    );
    await services.accessTokens.authenticate(second.accessToken, null);
    await expect(services.accessTokens.refresh(first.refreshToken as string)).rejects.toMatchObject(
      {
        errcode: 'M_UNKNOWN_TOKEN',
        status: 401,
      },
    );
    const third = await services.accessTokens.refresh(second.refreshToken as string);
    await services.accessTokens.authenticate(third.accessToken, null);
  });

  it('serialises concurrent refreshes of one token into one live chain', async () => {
    const { services, open, db } = await setup();
    const session = await open(true);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        services.accessTokens.refresh(session.refreshToken as string),
      ),
    );
    const live = await Promise.all(
      results.map((r) =>
        services.accessTokens.authenticate(r.accessToken, null).then(
          () => true,
          () => false,
        ),
      ),
    );
    expect(live.filter(Boolean)).toHaveLength(1);
    const refreshRows = await db.read((d) => d.selectFrom('refresh_tokens').selectAll().execute());
    // The original (until the new tokens are used) and the last replacement.
    expect(refreshRows).toHaveLength(1);
  });

  it('records last seen time and IP, at most once a minute for the same IP', async () => {
    const { services, open, clock, userId } = await setup();
    const session = await open(false);
    clock.advance(10 * 60 * 1000);
    await services.accessTokens.authenticate(session.accessToken, '10.0.0.2');
    const seen = await services.devices.get(userId, session.deviceId);
    expect(seen.last_seen_ip).toBe('10.0.0.2');
    expect(seen.last_seen_ts).toBe(clock.now());
    clock.advance(5_000);
    await services.accessTokens.authenticate(session.accessToken, '10.0.0.2');
    expect((await services.devices.get(userId, session.deviceId)).last_seen_ts).toBe(
      seen.last_seen_ts,
    );
  });

  it('revokes earlier tokens of a device reused at login', async () => {
    const { services, open } = await setup();
    const first = await open(false, 'MYDEVICE');
    const second = await open(false, 'MYDEVICE');
    expect(second.deviceId).toBe('MYDEVICE');
    await expect(services.accessTokens.authenticate(first.accessToken, null)).rejects.toMatchObject(
      {
        errcode: 'M_UNKNOWN_TOKEN',
      },
    );
    await services.accessTokens.authenticate(second.accessToken, null);
  });
});

describe('LoginTokens', () => {
  it('are single-use and expire after two minutes', async () => {
    const { services, db, userId, clock } = await setup();
    const create = () => db.transact((trx) => services.loginTokens.create(trx, userId));
    const first = await create();
    expect(first.expiresInMs).toBe(120_000);
    expect(first.token).toMatch(/^marina_lt_/);
    expect(await db.transact((trx) => services.loginTokens.consume(trx, first.token))).toBe(userId);
    await expect(
      db.transact((trx) => services.loginTokens.consume(trx, first.token)),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
    const second = await create();
    clock.advance(120_000);
    await expect(
      db.transact((trx) => services.loginTokens.consume(trx, second.token)),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});
