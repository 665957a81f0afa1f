import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSecretMac } from '../helpers/account-server.js';
import { requestWithHost, type HostRequest } from '../helpers/http-with-host.js';
import { runMarina, startMarina, type MarinaProcess } from '../helpers/marina-process.js';
import { PlacementServerForTests } from '../helpers/placement-server-for-tests.js';

/**
 * Matrix traffic through a real `marina router` process to a real homeserver: the `marina up`
 * process stands in for a shard (it serves its tenant `localhost` by Host), and the placement
 * comes from a stand-in for the controller's placement API.
 */
describe('marina router in front of a homeserver', () => {
  let dir: string;
  let shard: MarinaProcess;
  let placement: PlacementServerForTests;
  let router: MarinaProcess;
  let sharedSecret: string;
  const HOST = 'localhost:8008';

  const call = (options: HostRequest) => requestWithHost(router.url, { host: HOST, ...options });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-router-matrix-'));
    const dataDir = join(dir, 'data');
    shard = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
    const shown = await runMarina(['tenant', 'show', 'localhost', '--data-dir', dataDir, '--json']);
    sharedSecret = (JSON.parse(shown.stdout) as { registration_shared_secret: string })
      .registration_shared_secret;

    const token = 'router-matrix-admin-token';
    await writeFile(join(dir, 'admin-token'), `${token}\n`, { mode: 0o600 });
    placement = await PlacementServerForTests.start(token, [
      { server_name: 'localhost', shard_id: 'shard-up', traffic_url: shard.url },
    ]);
    process.env.MARINA_LOG_LEVEL = 'debug';
    router = await startMarina([
      'router',
      '--listen',
      '127.0.0.1:0',
      '--controller',
      placement.url,
      '--token-file',
      join(dir, 'admin-token'),
      // Connecting is bounded; waiting for an answer (a long-poll) is not.
      '--connect-timeout-ms',
      '1000',
    ]);
    delete process.env.MARINA_LOG_LEVEL;
  });

  afterAll(async () => {
    await router?.stop();
    await placement?.stop();
    await shard?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function register(username: string, password: string) {
    const nonce = (await call({ path: '/_synapse/admin/v1/register' })).json.nonce as string;
    const mac = sharedSecretMac(sharedSecret, { nonce, username, password, admin: false });
    return call({
      method: 'POST',
      path: '/_synapse/admin/v1/register',
      body: { nonce, username, password, admin: false, mac },
    });
  }

  it('registers with the shared secret, logs in and answers whoami through the router', async () => {
    const registered = await register('alice', 'correct horse battery');
    expect(registered.status).toBe(200);
    expect(registered.json.user_id).toBe('@alice:localhost');

    const login = await call({
      method: 'POST',
      path: '/_matrix/client/v3/login',
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'correct horse battery',
      },
    });
    expect(login.status).toBe(200);
    const whoami = await call({
      path: '/_matrix/client/v3/account/whoami',
      token: login.json.access_token,
    });
    expect(whoami.status).toBe(200);
    expect(whoami.json).toMatchObject({
      user_id: '@alice:localhost',
      device_id: login.json.device_id,
    });
    // The shard's own answers pass through unchanged, CORS headers included.
    expect(whoami.headers['access-control-allow-origin']).toBe('*');

    const wrong = await call({ path: '/_matrix/client/v3/account/whoami', token: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.json.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('passes a /sync long-poll through until a message ends it', async () => {
    const bob = (await register('bob', 'another fine password')).json;
    const room = await call({
      method: 'POST',
      path: '/_matrix/client/v3/createRoom',
      token: bob.access_token,
      body: { name: 'through the router' },
    });
    expect(room.status).toBe(200);
    const roomId = room.json.room_id as string;
    const initial = await call({ path: '/_matrix/client/v3/sync', token: bob.access_token });
    expect(initial.status).toBe(200);

    const started = Date.now();
    let answeredAt = 0;
    const longPoll = call({
      path: `/_matrix/client/v3/sync?since=${encodeURIComponent(initial.json.next_batch)}&timeout=20000`,
      token: bob.access_token,
    }).then((response) => {
      answeredAt = Date.now();
      return response;
    });
    // Longer than the router's connect timeout: waiting for an answer is not connecting.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(answeredAt).toBe(0);

    const sent = await call({
      method: 'PUT',
      path: `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn1`,
      token: bob.access_token,
      body: { msgtype: 'm.text', body: 'hello through the router' },
    });
    expect(sent.status).toBe(200);

    const synced = await longPoll;
    expect(synced.status).toBe(200);
    expect(answeredAt - started).toBeGreaterThanOrEqual(2_500);
    expect(answeredAt - started).toBeLessThan(15_000);
    const timeline = synced.json.rooms.join[roomId].timeline.events as { event_id: string }[];
    expect(timeline.map((event) => event.event_id)).toContain(sent.json.event_id);
  });

  it('logs one debug line per request, without the query string', async () => {
    const login = await call({
      method: 'POST',
      path: '/_matrix/client/v3/login',
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'correct horse battery',
      },
    });
    const secret = login.json.access_token as string;
    const whoami = await call({ path: `/_matrix/client/v3/account/whoami?access_token=${secret}` });
    expect(whoami.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const lines = router.logLines.filter(
      (line) => line.msg === 'request' && line.path === '/_matrix/client/v3/account/whoami',
    );
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatchObject({
      level: 20,
      method: 'GET',
      host: 'localhost',
      server_name: 'localhost',
      shard: 'shard-up',
      status: 200,
    });
    expect(typeof lines.at(-1)?.ms).toBe('number');
    expect(typeof lines.at(-1)?.req_id).toBe('string');
    expect(JSON.stringify(router.logLines)).not.toContain(secret);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await router.stop('SIGTERM')).toBe(0);
    expect(router.logLines.map((line) => line.msg)).toContain('stopped');
  });
});
