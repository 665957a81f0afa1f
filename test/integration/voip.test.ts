import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountServer } from '../helpers/account-server.js';

const TURN = '/_matrix/client/v3/voip/turnServer';

/** `GET /voip/turnServer` over HTTP. */
describe('TURN credentials', () => {
  let server: AccountServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('answers {} when the tenant has no TURN server, and 401 without a token', async () => {
    server = await AccountServer.start();
    const { accessToken } = await server.createUser('alice', 'alice-pw');
    expect(await server.call('GET', TURN, { token: accessToken })).toEqual({
      status: 200,
      body: {},
    });
    expect((await server.call('GET', TURN)).status).toBe(401);
  });

  it("derives time-limited credentials from the tenant's shared secret (TURN REST API)", async () => {
    server = await AccountServer.start({
      turn_uris: ['turn:turn.alpha.test:3478?transport=udp', 'turns:turn.alpha.test:443'],
      turn_shared_secret: 'coturn-static-auth-secret',
      turn_user_lifetime_ms: 3_600_000,
    });
    const { accessToken, userId } = await server.createUser('alice', 'alice-pw');
    const response = await server.call('GET', TURN, { token: accessToken });
    expect(response.status).toBe(200);
    const { username, password, uris, ttl } = response.body;
    expect(uris).toEqual(['turn:turn.alpha.test:3478?transport=udp', 'turns:turn.alpha.test:443']);
    expect(ttl).toBe(3600);
    const expiry = Math.floor((server.clock.now() + 3_600_000) / 1000);
    expect(username).toBe(`${expiry}:${userId}`);
    expect(password).toBe(
      createHmac('sha1', 'coturn-static-auth-secret').update(username).digest('base64'),
    );
  });
});
