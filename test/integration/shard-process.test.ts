import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import type { TenantConfig } from '../../src/services/tenant-config.js';
import { startShard, type ShardProcess } from '../helpers/shard-process.js';

const ADMIN = '/_marina/shard/v1';
const REGISTER = '/_matrix/client/v3/register';
const LOGIN = '/_matrix/client/v3/login';
const WHOAMI = '/_matrix/client/v3/account/whoami';
const VERSIONS = '/_matrix/client/versions';

interface TenantStatus {
  server_name: string;
  state: string;
  requests: number;
  last_active_ts: number | null;
  error?: string;
}

describe('marina shard (a real shard process)', () => {
  let dataDir: string;
  let store: LocalTenantStore;
  let shard: ShardProcess;

  /** A tenant folder with open registration, as the controller would push it. */
  async function openTenant(serverName: string): Promise<TenantConfig> {
    const config = await store.create(serverName);
    return { ...config, registration_mode: 'open' };
  }

  async function put(config: TenantConfig) {
    return shard.admin('PUT', `${ADMIN}/tenants/${config.server_name}`, { body: { config } });
  }

  async function statusOf(serverName: string): Promise<TenantStatus | undefined> {
    const response = await shard.admin('GET', `${ADMIN}/status`);
    expect(response.status).toBe(200);
    return (response.body.tenants as TenantStatus[]).find((t) => t.server_name === serverName);
  }

  async function register(host: string, username: string): Promise<string> {
    const response = await shard.call(host, 'POST', REGISTER, {
      body: { username, password: `${username}-pw`, auth: { type: 'm.login.dummy' } },
    });
    expect(response.status, response.text).toBe(200);
    return response.body.access_token as string;
  }

  async function login(host: string, username: string) {
    return shard.call(host, 'POST', LOGIN, {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: username },
        password: `${username}-pw`,
      },
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-shard-process-'));
    store = new LocalTenantStore(dataDir);
    shard = await startShard(['--data-dir', dataDir]);
    for (const name of ['alpha.test', 'beta.test']) {
      expect((await put(await openTenant(name))).status).toBe(200);
    }
  });

  afterAll(async () => {
    if (shard) expect(await shard.stop()).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints one shard-ready line with both URLs', () => {
    expect(shard.trafficUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(shard.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(shard.adminUrl).not.toBe(shard.trafficUrl);
  });

  it('refuses the admin API without the right token, but serves /metrics without one', async () => {
    for (const token of [null, 'wrong']) {
      const response = await shard.admin('GET', `${ADMIN}/status`, { token });
      expect(response.status).toBe(401);
      expect(response.body.errcode).toBe('M_UNKNOWN_TOKEN');
    }
    const put = await shard.admin('PUT', `${ADMIN}/tenants/x.test`, { token: null, body: {} });
    expect(put.status).toBe(401);
    const metrics = await shard.admin('GET', '/metrics', { token: null });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
  });

  it('refuses a config that is invalid, for another tenant, or with relative paths', async () => {
    const config = await openTenant('invalid.test');
    const wrongName = await shard.admin('PUT', `${ADMIN}/tenants/other.test`, {
      body: { config },
    });
    expect(wrongName.status).toBe(400);
    const relative = await shard.admin('PUT', `${ADMIN}/tenants/invalid.test`, {
      body: { config: { ...config, signing_key_path: 'signing.key' } },
    });
    expect(relative.status).toBe(400);
    expect(relative.body.errcode).toBe('M_INVALID_PARAM');
    const shapeless = await shard.admin('PUT', `${ADMIN}/tenants/invalid.test`, { body: {} });
    expect(shapeless.status).toBe(400);
    expect(shapeless.body.errcode).toBe('M_BAD_JSON');
    expect(await statusOf('invalid.test')).toBeUndefined();
  });

  it('starts a tenant lazily, on its first request', async () => {
    expect(await statusOf('beta.test')).toEqual({
      server_name: 'beta.test',
      state: 'hibernated',
      requests: 0,
      last_active_ts: null,
    });
    const before = Date.now();
    const response = await shard.call('beta.test', 'GET', VERSIONS);
    expect(response.status).toBe(200);
    const beta = await statusOf('beta.test');
    expect(beta).toMatchObject({ state: 'awake', requests: 1 });
    expect(beta?.last_active_ts).toBeGreaterThanOrEqual(before);
  });

  it('answers an unknown host with 404 M_NOT_FOUND', async () => {
    const response = await shard.call('nobody.test', 'GET', VERSIONS);
    expect(response.status).toBe(404);
    expect(response.body.errcode).toBe('M_NOT_FOUND');
  });

  it("refuses tenant A's access token on tenant B with 401 M_UNKNOWN_TOKEN", async () => {
    const alphaToken = await register('alpha.test', 'isolated');
    const onAlpha = await shard.call('alpha.test', 'GET', WHOAMI, { token: alphaToken });
    expect(onAlpha.body.user_id).toBe('@isolated:alpha.test');
    const onBeta = await shard.call('beta.test', 'GET', WHOAMI, { token: alphaToken });
    expect(onBeta.status).toBe(401);
    expect(onBeta.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('hibernates on request and wakes with its data intact', async () => {
    const token = await register('alpha.test', 'sleeper');
    await shard.call(
      'alpha.test',
      'PUT',
      '/_matrix/client/v3/profile/@sleeper:alpha.test/displayname',
      {
        token,
        body: { displayname: 'Sleeper' },
      },
    );
    const hibernated = await shard.admin('POST', `${ADMIN}/tenants/alpha.test/hibernate`);
    expect(hibernated.status).toBe(200);
    expect((await statusOf('alpha.test'))?.state).toBe('hibernated');

    const loggedIn = await login('alpha.test', 'sleeper');
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.body.user_id).toBe('@sleeper:alpha.test');
    expect((await statusOf('alpha.test'))?.state).toBe('awake');
    // The token from before the hibernation still works, and so does what it wrote.
    const whoami = await shard.call('alpha.test', 'GET', WHOAMI, { token });
    expect(whoami.body.user_id).toBe('@sleeper:alpha.test');
    const profile = await shard.call(
      'alpha.test',
      'GET',
      '/_matrix/client/v3/profile/@sleeper:alpha.test',
    );
    expect(profile.body.displayname).toBe('Sleeper');
  });

  it('answers 503 for a tenant that fails to start, while the others serve', async () => {
    const broken = await openTenant('broken.test');
    // Its database file is a directory: SQLite cannot open it.
    await mkdir(broken.database.dialect === 'sqlite' ? broken.database.path : '', {
      recursive: true,
    });
    expect((await put(broken)).status).toBe(200);
    const failing = await shard.call('broken.test', 'GET', VERSIONS);
    expect(failing.status).toBe(503);
    expect(failing.body.errcode).toBe('M_UNKNOWN');
    expect(failing.body.error).toContain('broken.test');
    const status = await statusOf('broken.test');
    expect(status?.state).toBe('failed');
    expect(status?.error).toEqual(expect.any(String));
    expect((await shard.call('alpha.test', 'GET', VERSIONS)).status).toBe(200);
    // Still failed on the next request (retried only after a delay), and still alone in it.
    expect((await shard.call('broken.test', 'GET', VERSIONS)).status).toBe(503);
    expect((await shard.call('beta.test', 'GET', VERSIONS)).status).toBe(200);
  });

  it('adds and removes tenants while another tenant serves traffic, leaving their data', async () => {
    let serving = true;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (serving) statuses.push((await shard.call('beta.test', 'GET', VERSIONS)).status);
    })();

    const gamma = await openTenant('gamma.test');
    expect((await put(gamma)).status).toBe(200);
    const token = await register('gamma.test', 'visitor');
    expect((await shard.call('gamma.test', 'GET', WHOAMI, { token })).status).toBe(200);

    expect((await shard.admin('DELETE', `${ADMIN}/tenants/gamma.test`)).status).toBe(200);
    const gone = await shard.call('gamma.test', 'GET', VERSIONS);
    expect(gone.status).toBe(404);
    expect(gone.body.errcode).toBe('M_NOT_FOUND');
    expect(await statusOf('gamma.test')).toBeUndefined();
    expect(
      (await stat(gamma.database.dialect === 'sqlite' ? gamma.database.path : '')).size,
    ).toBeGreaterThan(0);
    expect((await shard.admin('DELETE', `${ADMIN}/tenants/gamma.test`)).status).toBe(404);

    // Back again, with the account it had.
    expect((await put(gamma)).status).toBe(200);
    expect((await login('gamma.test', 'visitor')).status).toBe(200);

    serving = false;
    await traffic;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 200)).toBe(true);
  });

  it('replaces the config of a tenant: the next request runs with the new one', async () => {
    const delta = await openTenant('delta.test');
    expect((await put(delta)).status).toBe(200);
    await register('delta.test', 'first');
    expect((await put({ ...delta, registration_mode: 'closed' })).status).toBe(200);
    const refused = await shard.call('delta.test', 'POST', REGISTER, {
      body: { username: 'second', password: 'second-pw', auth: { type: 'm.login.dummy' } },
    });
    expect(refused.status).toBe(403);
    expect((await login('delta.test', 'first')).status).toBe(200);
  });

  it('refuses a host name that already routes to another tenant', async () => {
    const epsilon = await openTenant('epsilon.test');
    const response = await put({ ...epsilon, hostnames: ['epsilon.test', 'alpha.test'] });
    expect(response.status).toBe(409);
    expect(response.body.error).toContain('alpha.test');
  });

  it('exposes Prometheus metrics labelled by server_name', async () => {
    const response = await shard.admin('GET', '/metrics', { token: null });
    const text = response.text;
    expect(text).toMatch(
      /^marina_http_requests_total\{server_name="beta.test",method="GET",status="200"\} \d+$/m,
    );
    expect(text).toMatch(
      /^marina_http_requests_total\{server_name="broken.test",method="GET",status="503"\} 2$/m,
    );
    expect(text).toMatch(
      /^marina_http_request_duration_seconds_count\{server_name="alpha.test"\} \d+$/m,
    );
    expect(text).toMatch(/^marina_tenant_state\{server_name="alpha.test",state="awake"\} 1$/m);
    expect(text).toMatch(/^marina_tenant_state\{server_name="alpha.test",state="hibernated"\} 0$/m);
    expect(text).toMatch(/^marina_tenant_state\{server_name="broken.test",state="failed"\} 1$/m);
    expect(text).toMatch(/^marina_tenant_in_flight\{server_name="alpha.test"\} 0$/m);
    expect(text).toMatch(/^marina_tenant_queue_length\{server_name="alpha.test"\} 0$/m);
    // Process metrics, from the shard's own registry.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // Every tenant metric names its tenant; removed tenants and unknown hosts have none.
    const tenantLines = text.split('\n').filter((line) => /^marina_/.test(line));
    expect(tenantLines.length).toBeGreaterThan(0);
    for (const line of tenantLines) expect(line).toMatch(/server_name="[a-z.]+"/);
    expect(text).not.toContain('nobody.test');
  });
});
