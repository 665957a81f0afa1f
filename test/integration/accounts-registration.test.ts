import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer, sharedSecretMac } from '../helpers/account-server.js';

const REGISTER = '/_matrix/client/v3/register';
const VALIDITY = '/_matrix/client/v1/register/m.login.registration_token/validity';

describe('registration, open mode', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'open' });
  });
  afterAll(async () => server?.stop());

  it('answers a first request with the m.login.dummy flow and a session, no errcode', async () => {
    const response = await server.call('POST', REGISTER, { body: { username: 'first' } });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      flows: [{ stages: ['m.login.dummy'] }],
      params: {},
      session: expect.any(String),
    });
  });

  it('registers through the session, logs in, and refuses to reuse the session', async () => {
    const { session } = (await server.call('POST', REGISTER, { body: {} })).body;
    const body = {
      username: 'alice',
      password: 'alice-password',
      initial_device_display_name: 'Alice phone',
      auth: { type: 'm.login.dummy', session },
    };
    const response = await server.call('POST', REGISTER, { body });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: '@alice:alpha.test',
      home_server: 'alpha.test',
      access_token: expect.stringMatching(/^marina_at_/),
      device_id: expect.stringMatching(/^[A-Z]{10}$/),
    });
    const token = response.body.access_token;
    const whoami = await server.call('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.body).toEqual({
      user_id: '@alice:alpha.test',
      device_id: response.body.device_id,
      is_guest: false,
    });
    const devices = await server.call('GET', '/_matrix/client/v3/devices', { token });
    expect(devices.body.devices).toEqual([
      expect.objectContaining({ device_id: response.body.device_id, display_name: 'Alice phone' }),
    ]);

    const reused = await server.call('POST', REGISTER, { body: { ...body, username: 'alice2' } });
    expect(reused.status).toBe(400);
    expect(reused.body.errcode).toBe('M_UNKNOWN');
  });

  it('checks the username before auth: taken, any case → M_USER_IN_USE', async () => {
    for (const username of ['alice', 'ALICE']) {
      const response = await server.call('POST', REGISTER, { body: { username } });
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_USER_IN_USE');
    }
  });

  it.each(['bad name', '_reserved', '1234', 'émile', 'a:b', 'x'.repeat(250)])(
    'refuses the username %j with M_INVALID_USERNAME',
    async (username) => {
      const response = await server.call('POST', REGISTER, { body: { username } });
      expect(response.status).toBe(400);
      expect(response.body.errcode).toBe('M_INVALID_USERNAME');
    },
  );

  it('registers in one request with a dummy stage and no session', async () => {
    const response = await server.call('POST', REGISTER, {
      body: { username: 'oneshot', password: 'pw', auth: { type: 'm.login.dummy' } },
    });
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe('@oneshot:alpha.test');
  });

  it('honours inhibit_login, device_id and refresh_token', async () => {
    const inhibited = await server.call('POST', REGISTER, {
      body: {
        username: 'quiet',
        password: 'pw',
        inhibit_login: true,
        auth: { type: 'm.login.dummy' },
      },
    });
    expect(inhibited.body).toEqual({ user_id: '@quiet:alpha.test', home_server: 'alpha.test' });

    const refreshable = await server.call('POST', REGISTER, {
      body: {
        username: 'fresh',
        password: 'pw',
        device_id: 'MYDEVICE',
        refresh_token: true,
        auth: { type: 'm.login.dummy' },
      },
    });
    expect(refreshable.body).toMatchObject({
      device_id: 'MYDEVICE',
      refresh_token: expect.stringMatching(/^marina_rt_/),
      expires_in_ms: 300_000,
    });
  });

  it('generates a user ID when no username is given', async () => {
    const response = await server.call('POST', REGISTER, {
      body: { password: 'pw', auth: { type: 'm.login.dummy' } },
    });
    expect(response.status).toBe(200);
    expect(response.body.user_id).toMatch(/^@\d{10}:alpha\.test$/);
  });

  it('answers a stage not offered with 401, errcode and the same session', async () => {
    const { session } = (await server.call('POST', REGISTER, { body: {} })).body;
    const response = await server.call('POST', REGISTER, {
      body: { username: 'wrongstage', auth: { type: 'm.login.password', session } },
    });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({
      errcode: 'M_UNRECOGNIZED',
      session,
      flows: expect.any(Array),
    });
  });

  it('refuses an unknown session, and a session of another operation', async () => {
    const unknown = await server.call('POST', REGISTER, {
      body: { username: 'x1', auth: { type: 'm.login.dummy', session: 'no-such-session' } },
    });
    expect(unknown.status).toBe(400);

    const { session } = (await server.call('POST', REGISTER, { body: {} })).body;
    const other = await server.call('POST', '/_matrix/client/v3/account/password', {
      body: { new_password: 'x', auth: { type: 'm.login.dummy', session } },
    });
    expect(other.status).toBe(403);
    expect(other.body.errcode).toBe('M_FORBIDDEN');
  });

  it('keeps a UIA session across a restart of the tenant', async () => {
    const { session } = (await server.call('POST', REGISTER, { body: {} })).body;
    await server.restart();
    const response = await server.call('POST', REGISTER, {
      body: { username: 'afterrestart', password: 'pw', auth: { type: 'm.login.dummy', session } },
    });
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe('@afterrestart:alpha.test');
  });

  it('rejects malformed bodies with the spec errcodes', async () => {
    const notJson = await server.call('POST', REGISTER, { rawBody: '{"username": ' });
    expect(notJson.body.errcode).toBe('M_NOT_JSON');
    const badType = await server.call('POST', REGISTER, { body: { username: 5 } });
    expect(badType).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    const emptyPassword = await server.call('POST', REGISTER, {
      body: { username: 'weak', password: '' },
    });
    expect(emptyPassword).toMatchObject({ status: 400, body: { errcode: 'M_WEAK_PASSWORD' } });
    const badKind = await server.call('POST', `${REGISTER}?kind=robot`, { body: {} });
    expect(badKind).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });

  it('refuses guests unless allow_guest_access is on', async () => {
    const response = await server.call('POST', `${REGISTER}?kind=guest`, { body: {} });
    expect(response.status).toBe(403);
    expect(response.body.errcode).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });

  it('tells whether a username is available', async () => {
    const available = await server.call(
      'GET',
      '/_matrix/client/v3/register/available?username=Nobody',
    );
    expect(available).toEqual({ status: 200, body: { available: true } });
    const taken = await server.call('GET', '/_matrix/client/v3/register/available?username=alice');
    expect(taken).toMatchObject({ status: 400, body: { errcode: 'M_USER_IN_USE' } });
    const invalid = await server.call(
      'GET',
      '/_matrix/client/r0/register/available?username=a%20b',
    );
    expect(invalid).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_USERNAME' } });
    const missing = await server.call('GET', '/_matrix/client/v3/register/available');
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  it('refuses the token validity check when registration is not by token', async () => {
    const response = await server.call('GET', `${VALIDITY}?token=abc`);
    expect(response).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });
});

describe('registration, token mode', () => {
  let server: AccountServer;
  let adminToken: string;
  let userToken: string;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'token' });
    adminToken = (await server.createUser('admin', 'admin-password', { admin: true })).accessToken;
    userToken = (await server.createUser('plain', 'plain-password')).accessToken;
  });
  afterAll(async () => server?.stop());

  const createToken = (body: unknown, token = adminToken) =>
    server.call('POST', '/_synapse/admin/v1/registration_tokens/new', { body, token });

  it('offers the m.login.registration_token flow', async () => {
    const response = await server.call('POST', REGISTER, { body: {} });
    expect(response.status).toBe(401);
    expect(response.body.flows).toEqual([{ stages: ['m.login.registration_token'] }]);
  });

  it('lets admins only create and list tokens', async () => {
    const created = await createToken({ token: 'ONEUSE', uses_allowed: 1 });
    expect(created).toEqual({
      status: 200,
      body: { token: 'ONEUSE', uses_allowed: 1, pending: 0, completed: 0, expiry_time: null },
    });
    const generated = await createToken({ length: 24 });
    expect(generated.body.token).toMatch(/^[A-Za-z0-9]{24}$/);

    expect(await createToken({}, userToken)).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    const anonymous = await server.call('POST', '/_synapse/admin/v1/registration_tokens/new', {
      body: {},
    });
    expect(anonymous).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const list = await server.call('GET', '/_synapse/admin/v1/registration_tokens', {
      token: adminToken,
    });
    expect(list.body.registration_tokens.map((t: { token: string }) => t.token)).toContain(
      'ONEUSE',
    );
  });

  it.each([
    [{ token: 'has space' }],
    [{ token: 'x'.repeat(65) }],
    [{ token: 'ONEUSE' }],
    [{ uses_allowed: -1 }],
    [{ expiry_time: 1000 }],
    [{ length: 0 }],
  ])('refuses to create the token %j with M_INVALID_PARAM', async (body) => {
    expect(await createToken(body)).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
  });

  it('checks validity, registers with a token, and counts the use', async () => {
    expect((await server.call('GET', `${VALIDITY}?token=ONEUSE`)).body).toEqual({ valid: true });
    expect((await server.call('GET', `${VALIDITY}?token=UNKNOWN`)).body).toEqual({ valid: false });

    const { session } = (await server.call('POST', REGISTER, { body: {} })).body;
    const wrong = await server.call('POST', REGISTER, {
      body: {
        username: 'invited',
        password: 'pw',
        auth: { type: 'm.login.registration_token', token: 'WRONG', session },
      },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ errcode: 'M_UNAUTHORIZED', session });

    const right = await server.call('POST', REGISTER, {
      body: {
        username: 'invited',
        password: 'pw',
        auth: { type: 'm.login.registration_token', token: 'ONEUSE', session },
      },
    });
    expect(right.status).toBe(200);
    expect(right.body.user_id).toBe('@invited:alpha.test');

    expect((await server.call('GET', `${VALIDITY}?token=ONEUSE`)).body).toEqual({ valid: false });
    const again = await server.call('POST', REGISTER, {
      body: { username: 'second', auth: { type: 'm.login.registration_token', token: 'ONEUSE' } },
    });
    expect(again.status).toBe(401);
    expect(again.body.errcode).toBe('M_UNAUTHORIZED');

    const used = await server.call('GET', '/_synapse/admin/v1/registration_tokens?valid=false', {
      token: adminToken,
    });
    expect(used.body.registration_tokens).toContainEqual({
      token: 'ONEUSE',
      uses_allowed: 1,
      pending: 0,
      completed: 1,
      expiry_time: null,
    });
  });

  it('refuses an expired token', async () => {
    await createToken({ token: 'SOON', expiry_time: server.clock.now() + 1000 });
    server.clock.advance(1000);
    expect((await server.call('GET', `${VALIDITY}?token=SOON`)).body).toEqual({ valid: false });
  });
});

describe('registration, closed mode, and shared-secret registration', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'closed' });
  });
  afterAll(async () => server?.stop());

  const nonce = async () => (await server.call('GET', '/_synapse/admin/v1/register')).body.nonce;
  const post = (body: unknown) => server.call('POST', '/_synapse/admin/v1/register', { body });
  const signed = (fields: {
    nonce: string;
    username: string;
    password: string;
    admin: boolean;
  }) => ({
    ...fields,
    mac: sharedSecretMac(server.config.registration_shared_secret, fields),
  });

  it('refuses /register and availability checks with 403 M_FORBIDDEN', async () => {
    const response = await server.call('POST', REGISTER, {
      body: { username: 'x', auth: { type: 'm.login.dummy' } },
    });
    expect(response).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    const available = await server.call('GET', '/_matrix/client/v3/register/available?username=x');
    expect(available.status).toBe(403);
  });

  it('registers users with a valid MAC, admins included, even though registration is closed', async () => {
    const response = await post(
      signed({ nonce: await nonce(), username: 'Root', password: 'pw', admin: true }),
    );
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user_id: '@root:alpha.test',
      home_server: 'alpha.test',
      access_token: expect.stringMatching(/^marina_at_/),
      device_id: expect.any(String),
    });
    const list = await server.call('GET', '/_synapse/admin/v1/registration_tokens', {
      token: response.body.access_token,
    });
    expect(list).toEqual({ status: 200, body: { registration_tokens: [] } });
  });

  it('refuses a bad MAC with 403, and the nonce is used up by the attempt', async () => {
    const fields = signed({
      nonce: await nonce(),
      username: 'mallory',
      password: 'pw',
      admin: false,
    });
    const forged = await post({ ...fields, admin: true });
    expect(forged).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    const retry = await post(fields);
    expect(retry).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });

  it('refuses a reused, unknown or expired nonce', async () => {
    const fields = signed({ nonce: await nonce(), username: 'once', password: 'pw', admin: false });
    expect((await post(fields)).status).toBe(200);
    expect(await post(fields)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(
      await post(signed({ nonce: 'made-up', username: 'u', password: 'pw', admin: false })),
    ).toMatchObject({ status: 400 });
    const old = await nonce();
    server.clock.advance(60_000);
    expect(
      await post(signed({ nonce: old, username: 'late', password: 'pw', admin: false })),
    ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });

  it('refuses missing fields and bad or taken usernames', async () => {
    const missing = await post({ nonce: await nonce(), username: 'x', password: 'pw' });
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    const taken = await post(
      signed({ nonce: await nonce(), username: 'once', password: 'pw', admin: false }),
    );
    expect(taken).toMatchObject({ status: 400, body: { errcode: 'M_USER_IN_USE' } });
    const invalid = await post(
      signed({ nonce: await nonce(), username: 'no spaces', password: 'pw', admin: false }),
    );
    expect(invalid).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_USERNAME' } });
  });
});

describe('guest registration', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'closed', allow_guest_access: true });
  });
  afterAll(async () => server?.stop());

  it('creates guests who may use only the guest endpoints', async () => {
    const response = await server.call('POST', `${REGISTER}?kind=guest`, {
      body: { username: 'ignored', initial_device_display_name: 'Kiosk' },
    });
    expect(response.status).toBe(200);
    const { user_id: userId, access_token: token, device_id: deviceId } = response.body;
    expect(userId).toMatch(/^@\d{10}:alpha\.test$/);

    const whoami = await server.call('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.body).toEqual({ user_id: userId, device_id: deviceId, is_guest: true });
    const devices = await server.call('GET', '/_matrix/client/v3/devices', { token });
    expect(devices.body.devices[0]).toMatchObject({ device_id: deviceId, display_name: 'Kiosk' });

    const path = `/_matrix/client/v3/profile/${encodeURIComponent(userId)}`;
    expect(
      (await server.call('PUT', `${path}/displayname`, { token, body: { displayname: 'Guest' } }))
        .status,
    ).toBe(200);
    const avatar = await server.call('PUT', `${path}/avatar_url`, {
      token,
      body: { avatar_url: 'mxc://alpha.test/abc' },
    });
    expect(avatar).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    const threepids = await server.call('GET', '/_matrix/client/v3/account/3pid', { token });
    expect(threepids).toMatchObject({ status: 403, body: { errcode: 'M_GUEST_ACCESS_FORBIDDEN' } });
    const password = await server.call('POST', '/_matrix/client/v3/account/password', {
      token,
      body: { new_password: 'x' },
    });
    expect(password).toMatchObject({ status: 403, body: { errcode: 'M_GUEST_ACCESS_FORBIDDEN' } });
  });
});
