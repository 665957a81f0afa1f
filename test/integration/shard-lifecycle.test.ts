import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { startShard, type HttpResult, type ShardProcess } from '../helpers/shard-process.js';

const ADMIN = '/_marina/shard/v1';
const VERSIONS = '/_matrix/client/versions';
const IDLE_MS = 400;

describe('marina shard: idle hibernation, long-polls, fairness, stopping', () => {
  let dataDir: string;
  let shard: ShardProcess;

  async function stateOf(serverName: string): Promise<string | undefined> {
    const response = await shard.admin('GET', `${ADMIN}/status`);
    const tenants = response.body.tenants as { server_name: string; state: string }[];
    return tenants.find((tenant) => tenant.server_name === serverName)?.state;
  }

  async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function metrics(): Promise<string> {
    return (await shard.admin('GET', '/metrics', { token: null })).text;
  }

  async function register(host: string, username: string): Promise<string> {
    const response = await shard.call(host, 'POST', '/_matrix/client/v3/register', {
      body: { username, password: `${username}-pw`, auth: { type: 'm.login.dummy' } },
    });
    expect(response.status, response.text).toBe(200);
    return response.body.access_token as string;
  }

  /**
   * Starts a `/sync` long-poll that nothing will wake, once its first sync is done; returns once
   * it is in flight (wrapped: an async function would wait for a returned promise).
   */
  async function longPoll(host: string, token: string): Promise<{ answer: Promise<HttpResult> }> {
    const initial = await shard.call(host, 'GET', '/_matrix/client/v3/sync', { token });
    expect(initial.status).toBe(200);
    const since = encodeURIComponent(initial.body.next_batch as string);
    // Longer than the test's own timeout: only the shard ending it early lets the test pass.
    const waiting = shard.call(
      host,
      'GET',
      `/_matrix/client/v3/sync?since=${since}&timeout=600000`,
      { token },
    );
    await waitFor(
      async () => (await metrics()).includes(`marina_tenant_in_flight{server_name="${host}"} 1`),
      'the long-poll to be in flight',
    );
    return { answer: waiting };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-shard-lifecycle-'));
    const store = new LocalTenantStore(dataDir);
    shard = await startShard([
      '--data-dir',
      dataDir,
      '--idle-hibernate-ms',
      String(IDLE_MS),
      '--max-in-flight',
      '2',
      '--max-queued',
      '2',
    ]);
    for (const name of ['alpha.test', 'beta.test', 'gamma.test']) {
      const config = { ...(await store.create(name)), registration_mode: 'open' };
      const response = await shard.admin('PUT', `${ADMIN}/tenants/${name}`, { body: { config } });
      expect(response.status).toBe(200);
    }
  });

  afterAll(async () => {
    await shard?.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('hibernates a tenant idle for --idle-hibernate-ms and wakes it on the next request', async () => {
    expect((await shard.call('alpha.test', 'GET', VERSIONS)).status).toBe(200);
    await waitFor(async () => (await stateOf('alpha.test')) === 'hibernated', 'hibernation');
    expect((await shard.call('alpha.test', 'GET', VERSIONS)).status).toBe(200);
    expect(await stateOf('alpha.test')).toBe('awake');
  });

  it('keeps a tenant awake while a client long-polls; hibernating ends the long-poll at once', async () => {
    const token = await register('beta.test', 'poller');
    const { answer: waiting } = await longPoll('beta.test', token);
    // Well past the idle time, the long-polling tenant is still awake.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 4));
    expect(await stateOf('beta.test')).toBe('awake');

    expect((await shard.admin('POST', `${ADMIN}/tenants/beta.test/hibernate`)).status).toBe(200);
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.body.next_batch).toEqual(expect.any(String));
    expect(await stateOf('beta.test')).toBe('hibernated');
  });

  it('refuses a flooding tenant past its queue with 429, while another tenant serves', async () => {
    await register('alpha.test', 'flooder');
    // Wrong-password logins each cost a password hash: slow enough to pile up.
    const flood = Array.from({ length: 8 }, () =>
      shard.call('alpha.test', 'POST', '/_matrix/client/v3/login', {
        body: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'flooder' },
          password: 'wrong',
        },
      }),
    );
    const quiet = await shard.call('gamma.test', 'GET', VERSIONS);
    expect(quiet.status).toBe(200);
    const answers = await Promise.all(flood);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const answer of limited) {
      expect(answer.body).toMatchObject({
        errcode: 'M_LIMIT_EXCEEDED',
        retry_after_ms: expect.any(Number),
      });
      // From the queue's state, within 100 ms … 5 s; Retry-After says it in whole seconds.
      const retryAfterMs = answer.body.retry_after_ms as number;
      expect(retryAfterMs).toBeGreaterThanOrEqual(100);
      expect(retryAfterMs).toBeLessThanOrEqual(5_000);
      expect(answer.headers['retry-after']).toBe(String(Math.ceil(retryAfterMs / 1000)));
    }
    const others = answers.filter((answer) => answer.status !== 429);
    expect(others.length).toBeGreaterThanOrEqual(4);
    for (const answer of others) expect(answer.body.errcode).toBe('M_FORBIDDEN');
  });

  it('stops cleanly on SIGTERM, answering the long-polls in flight', async () => {
    const token = await register('gamma.test', 'stayer');
    const { answer: waiting } = await longPoll('gamma.test', token);
    expect(await shard.stop('SIGTERM')).toBe(0);
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(shard.stderr()).toContain('"msg":"stopped"');
  });
});
