import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';

const LOGIN = '/_matrix/client/v3/login';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const password = (user: unknown, pw: string, extra: Record<string, unknown> = {}) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password: pw,
  ...extra,
});

describe('login, sessions and access tokens', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'closed' });
    await server.createUser('alice', 'alice-password');
    await server.createUser('bob', 'bob-password');
  });
  afterAll(async () => server?.stop());

  it('lists the login flows', async () => {
    const response = await server.call('GET', LOGIN);
    expect(response.body).toEqual({
      flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }],
    });
  });

  it('logs in by localpart, user ID, any case, or the legacy user field', async () => {
    for (const body of [
      password('alice', 'alice-password'),
      password('@alice:alpha.test', 'alice-password'),
      password('ALICE', 'alice-password'),
      { type: 'm.login.password', user: 'alice', password: 'alice-password' },
    ]) {
      const response = await server.call('POST', LOGIN, { body });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        user_id: '@alice:alpha.test',
        access_token: expect.stringMatching(/^marina_at_[A-Za-z0-9_-]{43}$/),
        device_id: expect.any(String),
        home_server: 'alpha.test',
        well_known: { 'm.homeserver': { base_url: 'https://alpha.test' } },
      });
    }
  });

  it.each([
    ['a wrong password', password('alice', 'wrong'), 403, 'M_FORBIDDEN'],
    ['an unknown user', password('nobody', 'x'), 403, 'M_FORBIDDEN'],
    [
      'a user of another server',
      password('@alice:other.test', 'alice-password'),
      403,
      'M_FORBIDDEN',
    ],
    ['a malformed user ID', password('@alice', 'alice-password'), 403, 'M_FORBIDDEN'],
    [
      'a third-party identifier',
      {
        type: 'm.login.password',
        identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@b' },
        password: 'x',
      },
      403,
      'M_FORBIDDEN',
    ],
    [
      'no password',
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'alice' } },
      400,
      'M_MISSING_PARAM',
    ],
    ['no identifier', { type: 'm.login.password', password: 'x' }, 400, 'M_MISSING_PARAM'],
    [
      'an unknown identifier type',
      { type: 'm.login.password', identifier: { type: 'm.id.x' }, password: 'x' },
      400,
      'M_BAD_JSON',
    ],
    ['no type', { password: 'x' }, 400, 'M_MISSING_PARAM'],
    ['an unknown type', { type: 'm.login.magic' }, 400, 'M_UNKNOWN'],
    ['a password of the wrong type', password('alice', 5 as unknown as string), 400, 'M_BAD_JSON'],
  ] as const)('refuses %s', async (_label, body, status, errcode) => {
    const response = await server.call('POST', LOGIN, { body });
    expect(response.status).toBe(status);
    expect(response.body.errcode).toBe(errcode);
  });

  it('authenticates by header or access_token query; refuses missing and unknown tokens', async () => {
    const { access_token: token } = await server.login('alice', 'alice-password');
    expect((await server.call('GET', WHOAMI, { token })).body.user_id).toBe('@alice:alpha.test');
    const byQuery = await server.call('GET', `${WHOAMI}?access_token=${encodeURIComponent(token)}`);
    expect(byQuery.body.user_id).toBe('@alice:alpha.test');

    const missing = await server.call('GET', WHOAMI);
    expect(missing).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const basic = await server.call('GET', WHOAMI, { headers: { Authorization: 'Basic abc' } });
    expect(basic).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const unknown = await server.call('GET', WHOAMI, { token: 'marina_at_forged' });
    expect(unknown).toEqual({
      status: 401,
      body: { errcode: 'M_UNKNOWN_TOKEN', error: expect.any(String), soft_logout: false },
    });
  });

  it('reuses a device given at login and revokes its earlier token', async () => {
    const first = await server.login('alice', 'alice-password', { device_id: 'PHONE' });
    const second = await server.login('alice', 'alice-password', { device_id: 'PHONE' });
    expect(second.device_id).toBe('PHONE');
    expect((await server.call('GET', WHOAMI, { token: first.access_token })).status).toBe(401);
    expect((await server.call('GET', WHOAMI, { token: second.access_token })).status).toBe(200);
  });

  it('logs out one session: its token and device go', async () => {
    const keep = await server.login('bob', 'bob-password', { device_id: 'KEEP' });
    const leave = await server.login('bob', 'bob-password', { device_id: 'LEAVE' });
    const out = await server.call('POST', '/_matrix/client/v3/logout', {
      token: leave.access_token,
    });
    expect(out).toEqual({ status: 200, body: {} });
    expect((await server.call('GET', WHOAMI, { token: leave.access_token })).body.errcode).toBe(
      'M_UNKNOWN_TOKEN',
    );
    const devices = await server.call('GET', '/_matrix/client/v3/devices', {
      token: keep.access_token,
    });
    const ids = devices.body.devices.map((d: { device_id: string }) => d.device_id);
    expect(ids).toContain('KEEP');
    expect(ids).not.toContain('LEAVE');
    expect((await server.call('POST', '/_matrix/client/v3/logout')).status).toBe(401);
  });

  it('logs out all sessions', async () => {
    const a = await server.login('bob', 'bob-password');
    const b = await server.login('bob', 'bob-password');
    expect(
      (await server.call('POST', '/_matrix/client/r0/logout/all', { token: a.access_token }))
        .status,
    ).toBe(200);
    for (const session of [a, b]) {
      expect((await server.call('GET', WHOAMI, { token: session.access_token })).status).toBe(401);
    }
    const fresh = await server.login('bob', 'bob-password');
    const devices = await server.call('GET', '/_matrix/client/v3/devices', {
      token: fresh.access_token,
    });
    expect(devices.body.devices).toHaveLength(1);
  });

  it('expires refreshable tokens with soft_logout and refreshes them', async () => {
    const session = await server.login('alice', 'alice-password', { refresh_token: true });
    expect(session).toMatchObject({
      expires_in_ms: 300_000,
      refresh_token: expect.stringMatching(/^marina_rt_/),
    });
    expect((await server.call('GET', WHOAMI, { token: session.access_token })).status).toBe(200);
    server.clock.advance(300_000);
    const expired = await server.call('GET', WHOAMI, { token: session.access_token });
    expect(expired).toMatchObject({
      status: 401,
      body: { errcode: 'M_UNKNOWN_TOKEN', soft_logout: true },
    });

    const refreshed = await server.call('POST', '/_matrix/client/v3/refresh', {
      body: { refresh_token: session.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({
      access_token: expect.stringMatching(/^marina_at_/),
      refresh_token: expect.stringMatching(/^marina_rt_/),
      expires_in_ms: 300_000,
    });
    const whoami = await server.call('GET', WHOAMI, { token: refreshed.body.access_token });
    expect(whoami.body).toMatchObject({
      user_id: '@alice:alpha.test',
      device_id: session.device_id,
    });

    // Using the new token revoked the old refresh token; the new one works.
    const old = await server.call('POST', '/_matrix/client/v3/refresh', {
      body: { refresh_token: session.refresh_token },
    });
    expect(old).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    const next = await server.call('POST', '/_matrix/client/v3/refresh', {
      body: { refresh_token: refreshed.body.refresh_token },
    });
    expect(next.status).toBe(200);
  });

  it('refuses unknown and missing refresh tokens', async () => {
    const unknown = await server.call('POST', '/_matrix/client/v3/refresh', {
      body: { refresh_token: 'marina_rt_forged' },
    });
    expect(unknown).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    const missing = await server.call('POST', '/_matrix/client/v3/refresh', { body: {} });
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  it('issues single-use login tokens behind a password re-check, and logs in with them', async () => {
    const session = await server.login('alice', 'alice-password');
    const getToken = (auth?: unknown) =>
      server.call('POST', '/_matrix/client/v1/login/get_token', {
        token: session.access_token,
        body: auth === undefined ? {} : { auth },
      });
    const challenge = await getToken();
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    const wrong = await getToken({
      type: 'm.login.password',
      session: challenge.body.session,
      identifier: { type: 'm.id.user', user: 'alice' },
      password: 'nope',
    });
    expect(wrong).toMatchObject({ status: 401, body: { errcode: 'M_FORBIDDEN' } });
    const issued = await getToken({
      type: 'm.login.password',
      session: challenge.body.session,
      identifier: { type: 'm.id.user', user: 'alice' },
      password: 'alice-password',
    });
    expect(issued.body).toEqual({
      login_token: expect.stringMatching(/^marina_lt_/),
      expires_in_ms: 120_000,
    });

    const login = await server.call('POST', LOGIN, {
      body: { type: 'm.login.token', token: issued.body.login_token },
    });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe('@alice:alpha.test');
    const reused = await server.call('POST', LOGIN, {
      body: { type: 'm.login.token', token: issued.body.login_token },
    });
    expect(reused).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });

    // Every token needs its own re-check: the session was used up.
    const again = await getToken({ type: 'm.login.password', session: challenge.body.session });
    expect(again.status).toBe(400);
  });

  it('refuses an expired login token', async () => {
    const session = await server.login('alice', 'alice-password');
    const issued = await server.call('POST', '/_matrix/client/v1/login/get_token', {
      token: session.access_token,
      body: {
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'alice' },
          password: 'alice-password',
        },
      },
    });
    server.clock.advance(120_000);
    const login = await server.call('POST', LOGIN, {
      body: { type: 'm.login.token', token: issued.body.login_token },
    });
    expect(login).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('records where and when a device was last seen', async () => {
    const session = await server.login('alice', 'alice-password', { device_id: 'SEEN' });
    const device = await server.call('GET', '/_matrix/client/v3/devices/SEEN', {
      token: session.access_token,
    });
    expect(device.body).toEqual({
      device_id: 'SEEN',
      last_seen_ip: '127.0.0.1',
      last_seen_ts: server.clock.now(),
    });
  });

  it('still answers unknown endpoints with 404 and wrong methods with 405', async () => {
    const { access_token: token } = await server.login('alice', 'alice-password');
    const unknown = await server.call('GET', '/_matrix/client/v3/nothing/here', { token });
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    const wrongMethod = await server.call('DELETE', LOGIN, { token });
    expect(wrongMethod).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
  });
});
