import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, MatrixError as SdkMatrixError } from 'matrix-js-sdk';
import { AccountServer } from '../helpers/account-server.js';

// A real client against the real server: matrix-js-sdk's own request building and response
// parsing, over HTTP, with the server's production password hashing.
describe('matrix-js-sdk 37.5 against Marina', () => {
  let server: AccountServer;
  beforeAll(async () => {
    server = await AccountServer.start(
      { registration_mode: 'open' },
      { realPasswordHashing: true },
    );
  });
  afterAll(async () => server?.stop());

  it('registers, logs in, manages devices and profile, and logs out', async () => {
    const anonymous = createClient({ baseUrl: server.url, fetchFn: fetch });

    // Without auth the SDK surfaces the 401 with the flows and the session.
    const challenge = await anonymous
      .registerRequest({ username: 'sdkuser', password: 'sdk-password' })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(challenge).toBeInstanceOf(SdkMatrixError);
    expect((challenge as SdkMatrixError).httpStatus).toBe(401);
    const { session, flows } = (challenge as SdkMatrixError).data as {
      session: string;
      flows: Array<{ stages: string[] }>;
    };
    expect(flows).toEqual([{ stages: ['m.login.dummy'] }]);

    const registered = await anonymous.registerRequest({
      username: 'sdkuser',
      password: 'sdk-password',
      initial_device_display_name: 'SDK test',
      auth: { type: 'm.login.dummy', session },
    });
    expect(registered.user_id).toBe('@sdkuser:alpha.test');
    expect(registered.access_token).toBeTruthy();

    // `login` stores the new access token in the client it was called on.
    const client = createClient({ baseUrl: server.url, fetchFn: fetch });
    const loggedIn = await client.login('m.login.password', {
      identifier: { type: 'm.id.user', user: 'sdkuser' },
      password: 'sdk-password',
      initial_device_display_name: 'Second device',
    });
    expect(loggedIn.user_id).toBe('@sdkuser:alpha.test');
    expect(client.getUserId()).toBe('@sdkuser:alpha.test');

    const whoami = await client.whoami();
    expect(whoami).toMatchObject({ user_id: '@sdkuser:alpha.test', device_id: loggedIn.device_id });

    const { devices } = await client.getDevices();
    expect(devices.map((d) => d.display_name).sort()).toEqual(['SDK test', 'Second device']);

    await client.setDisplayName('SDK User');
    expect(await client.getProfileInfo('@sdkuser:alpha.test')).toMatchObject({
      displayname: 'SDK User',
    });

    await client.logout();
    const afterLogout = await anonymous
      .loginRequest({ type: 'm.login.password', user: 'sdkuser', password: 'wrong' })
      .then(
        () => undefined,
        (error: unknown) => error as SdkMatrixError,
      );
    expect(afterLogout?.errcode).toBe('M_FORBIDDEN');
    const reused = createClient({
      baseUrl: server.url,
      fetchFn: fetch,
      accessToken: loggedIn.access_token,
    });
    await expect(reused.whoami()).rejects.toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });
});
