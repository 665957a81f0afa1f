import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';

const V3 = '/_matrix/client/v3';
const WHOAMI = `${V3}/account/whoami`;
const passwordAuth = (user: string, password: string, session?: string) => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user },
  password,
  ...(session === undefined ? {} : { session }),
});

describe('account management', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start({ registration_mode: 'open' });
  });
  afterAll(async () => server?.stop());

  const status = async (token: string) => (await server.call('GET', WHOAMI, { token })).status;

  describe('POST /account/password', () => {
    it('re-checks the password, changes it, and logs out the other devices only', async () => {
      await server.createUser('carol', 'carol-old');
      const current = await server.login('carol', 'carol-old', { device_id: 'CURRENT' });
      const other = await server.login('carol', 'carol-old', { device_id: 'OTHER' });
      const change = (auth?: unknown) =>
        server.call('POST', `${V3}/account/password`, {
          token: current.access_token,
          body: { new_password: 'carol-new', ...(auth ? { auth } : {}) },
        });

      const challenge = await change();
      expect(challenge.status).toBe(401);
      expect(challenge.body).toEqual({
        flows: [{ stages: ['m.login.password'] }],
        params: {},
        session: expect.any(String),
      });
      const { session } = challenge.body;
      const wrong = await change(passwordAuth('carol', 'nope', session));
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({ errcode: 'M_FORBIDDEN', session });
      expect(await status(current.access_token)).toBe(200);

      const done = await change(passwordAuth('carol', 'carol-old', session));
      expect(done).toEqual({ status: 200, body: {} });
      expect(await status(current.access_token)).toBe(200);
      expect(await status(other.access_token)).toBe(401);
      const oldLogin = await server.call('POST', `${V3}/login`, {
        body: { type: 'm.login.password', user: 'carol', password: 'carol-old' },
      });
      expect(oldLogin.status).toBe(403);
      await server.login('carol', 'carol-new');
    });

    it('keeps other devices with logout_devices: false', async () => {
      await server.createUser('dave', 'dave-old');
      const current = await server.login('dave', 'dave-old');
      const other = await server.login('dave', 'dave-old');
      const response = await server.call('POST', `${V3}/account/password`, {
        token: current.access_token,
        body: {
          new_password: 'dave-new',
          logout_devices: false,
          auth: passwordAuth('dave', 'dave-old'),
        },
      });
      expect(response.status).toBe(200);
      expect(await status(other.access_token)).toBe(200);
    });

    it("refuses another user's password as re-authentication", async () => {
      await server.createUser('erin', 'erin-pw');
      await server.createUser('frank', 'frank-pw');
      const erin = await server.login('erin', 'erin-pw');
      const response = await server.call('POST', `${V3}/account/password`, {
        token: erin.access_token,
        body: { new_password: 'hijacked', auth: passwordAuth('frank', 'frank-pw') },
      });
      expect(response.status).toBe(401);
      expect(response.body.errcode).toBe('M_FORBIDDEN');
      await server.login('erin', 'erin-pw');
      await server.login('frank', 'frank-pw');
    });

    it('works without an access token, the password stage naming the user', async () => {
      await server.createUser('gina', 'gina-old');
      const challenge = await server.call('POST', `${V3}/account/password`, {
        body: { new_password: 'gina-new' },
      });
      expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
      const response = await server.call('POST', `${V3}/account/password`, {
        body: {
          new_password: 'gina-new',
          auth: passwordAuth('@gina:alpha.test', 'gina-old', challenge.body.session),
        },
      });
      expect(response.status).toBe(200);
      await server.login('gina', 'gina-new');
    });

    it('refuses a missing new_password and an invalid token', async () => {
      const missing = await server.call('POST', `${V3}/account/password`, { body: {} });
      expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
      const badToken = await server.call('POST', `${V3}/account/password`, {
        token: 'marina_at_forged',
        body: { new_password: 'x' },
      });
      expect(badToken).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    });
  });

  describe('POST /account/deactivate', () => {
    it('deactivates behind a password re-check: sessions end, login is refused, the name stays taken', async () => {
      await server.createUser('hank', 'hank-pw');
      const a = await server.login('hank', 'hank-pw');
      const b = await server.login('hank', 'hank-pw');
      const challenge = await server.call('POST', `${V3}/account/deactivate`, {
        token: a.access_token,
        body: {},
      });
      expect(challenge.status).toBe(401);
      const response = await server.call('POST', `${V3}/account/deactivate`, {
        token: a.access_token,
        body: { auth: passwordAuth('hank', 'hank-pw', challenge.body.session) },
      });
      expect(response).toEqual({ status: 200, body: { id_server_unbind_result: 'success' } });
      expect(await status(a.access_token)).toBe(401);
      expect(await status(b.access_token)).toBe(401);
      const login = await server.call('POST', `${V3}/login`, {
        body: { type: 'm.login.password', user: 'hank', password: 'hank-pw' },
      });
      expect(login).toMatchObject({ status: 403, body: { errcode: 'M_USER_DEACTIVATED' } });
      const available = await server.call('GET', `${V3}/register/available?username=hank`);
      expect(available.body.errcode).toBe('M_USER_IN_USE');
    });
  });

  describe('devices', () => {
    let token: string;
    let deviceId: string;
    beforeAll(async () => {
      await server.createUser('ivy', 'ivy-pw');
      const session = await server.login('ivy', 'ivy-pw', {
        initial_device_display_name: 'Laptop',
      });
      token = session.access_token;
      deviceId = session.device_id;
    });

    it('lists, gets and renames devices; unknown ones are 404', async () => {
      const list = await server.call('GET', `${V3}/devices`, { token });
      expect(list.body.devices).toContainEqual({
        device_id: deviceId,
        display_name: 'Laptop',
        last_seen_ip: '127.0.0.1',
        last_seen_ts: expect.any(Number),
      });
      const rename = await server.call('PUT', `${V3}/devices/${deviceId}`, {
        token,
        body: { display_name: 'Work laptop' },
      });
      expect(rename).toEqual({ status: 200, body: {} });
      const one = await server.call('GET', `${V3}/devices/${deviceId}`, { token });
      expect(one.body.display_name).toBe('Work laptop');

      expect(await server.call('GET', `${V3}/devices/NOPE`, { token })).toMatchObject({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
      expect(
        await server.call('PUT', `${V3}/devices/NOPE`, { token, body: { display_name: 'x' } }),
      ).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(
        await server.call('PUT', `${V3}/devices/${deviceId}`, {
          token,
          body: { display_name: 'x'.repeat(300) },
        }),
      ).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      // Another user's device is not found either.
      const jack = await server.createUser('jack', 'jack-pw');
      expect(await server.call('GET', `${V3}/devices/${jack.deviceId}`, { token })).toMatchObject({
        status: 404,
      });
    });

    it('deletes a device behind a password re-check, and with it its tokens', async () => {
      const doomed = await server.login('ivy', 'ivy-pw', { device_id: 'DOOMED' });
      const challenge = await server.call('DELETE', `${V3}/devices/DOOMED`, { token, body: {} });
      expect(challenge.status).toBe(401);
      expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
      const response = await server.call('DELETE', `${V3}/devices/DOOMED`, {
        token,
        body: { auth: passwordAuth('ivy', 'ivy-pw', challenge.body.session) },
      });
      expect(response).toEqual({ status: 200, body: {} });
      expect(await status(doomed.access_token)).toBe(401);
      expect((await server.call('GET', `${V3}/devices/DOOMED`, { token })).status).toBe(404);
      // Deleting a device that is gone already succeeds.
      const again = await server.call('DELETE', `${V3}/devices/DOOMED`, {
        token,
        body: { auth: passwordAuth('ivy', 'ivy-pw') },
      });
      expect(again.status).toBe(200);
    });

    it('deletes several devices; a session is bound to the devices it was started for', async () => {
      const a = await server.login('ivy', 'ivy-pw', { device_id: 'BULK_A' });
      const b = await server.login('ivy', 'ivy-pw', { device_id: 'BULK_B' });
      const challenge = await server.call('POST', `${V3}/delete_devices`, {
        token,
        body: { devices: ['BULK_A'] },
      });
      const switched = await server.call('POST', `${V3}/delete_devices`, {
        token,
        body: {
          devices: ['BULK_A', deviceId],
          auth: passwordAuth('ivy', 'ivy-pw', challenge.body.session),
        },
      });
      expect(switched).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      const response = await server.call('POST', `${V3}/delete_devices`, {
        token,
        body: { devices: ['BULK_B', 'BULK_A'], auth: passwordAuth('ivy', 'ivy-pw') },
      });
      expect(response.status).toBe(200);
      expect(await status(a.access_token)).toBe(401);
      expect(await status(b.access_token)).toBe(401);
      expect(await status(token)).toBe(200);
      const missing = await server.call('POST', `${V3}/delete_devices`, { token, body: {} });
      expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    });

    it('offers m.login.dummy to an account without a password', async () => {
      const registered = await server.call('POST', `${V3}/register`, {
        body: { username: 'nopassword', auth: { type: 'm.login.dummy' } },
      });
      const nopwToken = registered.body.access_token;
      const challenge = await server.call('DELETE', `${V3}/devices/${registered.body.device_id}`, {
        token: nopwToken,
        body: {},
      });
      expect(challenge.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
      const response = await server.call('DELETE', `${V3}/devices/${registered.body.device_id}`, {
        token: nopwToken,
        body: { auth: { type: 'm.login.dummy', session: challenge.body.session } },
      });
      expect(response.status).toBe(200);
      expect(await status(nopwToken)).toBe(401);
    });
  });

  it('answers capabilities and 3PIDs', async () => {
    const { accessToken: token } = await server.createUser('kate', 'kate-pw');
    const capabilities = await server.call('GET', `${V3}/capabilities`, { token });
    expect(capabilities.status).toBe(200);
    expect(capabilities.body.capabilities).toMatchObject({
      'm.change_password': { enabled: true },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
      'm.get_login_token': { enabled: true },
    });
    const versions = capabilities.body.capabilities['m.room_versions'];
    expect(versions.default).toBe('12');
    expect(versions.available['12']).toBe('stable');
    expect(Object.keys(versions.available)).toHaveLength(12);
    expect((await server.call('GET', `${V3}/capabilities`)).status).toBe(401);

    const threepids = await server.call('GET', '/_matrix/client/r0/account/3pid', { token });
    expect(threepids).toEqual({ status: 200, body: { threepids: [] } });
  });
});
