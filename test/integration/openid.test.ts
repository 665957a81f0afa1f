import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';
import { createRoomUsers, enc, type RoomUser } from '../helpers/room-users.js';

/**
 * OpenID: a user asks for a token (`POST /user/{userId}/openid/request_token`) and a third
 * party exchanges it for the user ID (`GET /_matrix/federation/v1/openid/userinfo`, no
 * signature). Tokens are good for that only, for an hour, and only for the caller.
 */
describe('OpenID tokens', () => {
  let server: AccountServer;
  let alice: RoomUser;
  let bob: RoomUser;

  beforeAll(async () => {
    server = await AccountServer.start();
    [alice, bob] = await createRoomUsers(server, ['alice', 'bob']);
  });
  afterAll(async () => server?.stop());

  const requestToken = (user: RoomUser, userId = user.userId) =>
    user.call('POST', `/user/${enc(userId)}/openid/request_token`, {});
  const userinfo = (token: string) =>
    server.call('GET', `/_matrix/federation/v1/openid/userinfo?access_token=${enc(token)}`);

  it('gives the caller a token that a third party exchanges for the user ID', async () => {
    const response = await requestToken(alice);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      matrix_server_name: server.config.server_name,
      expires_in: 3600,
    });
    expect(await userinfo(response.body.access_token)).toEqual({
      status: 200,
      body: { sub: alice.userId },
    });
    // Each request makes a new token; both work.
    const other = (await requestToken(alice)).body.access_token;
    expect(other).not.toBe(response.body.access_token);
    expect((await userinfo(other)).body).toEqual({ sub: alice.userId });
  });

  it('refuses tokens for someone else, and unknown or expired tokens', async () => {
    expect(await requestToken(bob, alice.userId)).toMatchObject({
      status: 403,
      body: { errcode: 'M_FORBIDDEN' },
    });
    expect(await userinfo('marina_oi_not-a-token')).toMatchObject({
      status: 401,
      body: { errcode: 'M_UNKNOWN_TOKEN' },
    });
    const missing = await server.call('GET', '/_matrix/federation/v1/openid/userinfo');
    expect(missing.status).toBe(400);

    const token = (await requestToken(bob)).body.access_token as string;
    server.clock.advance(3600_000 - 1);
    expect((await userinfo(token)).body).toEqual({ sub: bob.userId });
    server.clock.advance(1);
    expect(await userinfo(token)).toMatchObject({
      status: 401,
      body: { errcode: 'M_UNKNOWN_TOKEN' },
    });
  });

  it('is no access token', async () => {
    const token = (await requestToken(alice)).body.access_token as string;
    const whoami = await server.call('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    const unauthenticated = await server.call(
      'POST',
      `/_matrix/client/v3/user/${enc(alice.userId)}/openid/request_token`,
      { body: {} },
    );
    expect(unauthenticated).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
  });

  it('stops working when its user is deactivated', async () => {
    const [carol] = await createRoomUsers(server, ['carol']);
    const token = (await requestToken(carol)).body.access_token as string;
    expect((await userinfo(token)).body).toEqual({ sub: carol.userId });
    await carol.ok('POST', '/account/deactivate', {
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'carol' },
        password: 'carol-password',
      },
    });
    await expect.poll(async () => (await userinfo(token)).status).toBe(401);
  });
});
