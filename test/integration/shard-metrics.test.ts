import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { Shard } from '../../src/shard/shard.js';
import { TEST_PASSWORD_HASHING } from '../helpers/account-services.js';
import { freePort } from '../helpers/free-port.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const ALPHA = 'alpha.test';
const BETA = 'beta.test';

/** A client-server call to the tenant named by `host`, through the shard's traffic port. */
function call(
  port: number,
  host: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: '127.0.0.1',
        port,
        method,
        path: `/_matrix/client/v3${path}`,
        headers: {
          Host: host,
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
          ...(payload === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The value of the sample `name{labels}` in a Prometheus exposition (undefined if absent). */
function sample(exposition: string, name: string, labels: string): number | undefined {
  const line = exposition.split('\n').find((entry) => entry.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The shard's federation metrics (`marina_federation_*`), with two tenants of one in-process
 * shard federating through it (the shard is its own "router": a request with a tenant's name
 * as `Host` reaches that tenant): each tenant's counters carry its `server_name`.
 */
describe('shard metrics: federation', () => {
  let dataDir: string;
  let shard: Shard;
  let port: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-shard-metrics-'));
    const store = new LocalTenantStore(dataDir);
    const alpha = await store.create(ALPHA, { registrationMode: 'open' });
    const beta = await store.create(BETA, { registrationMode: 'open' });
    port = await freePort();
    shard = await Shard.start({
      logger: pino({ level: 'silent' }),
      tenants: [alpha, beta],
      listen: { host: '127.0.0.1', port },
      publicBaseUrlFor: (serverName) => `https://${serverName}`,
      passwordHashing: TEST_PASSWORD_HASHING,
      federationRouterUrl: `http://127.0.0.1:${port}`,
    });
  });

  afterAll(async () => {
    await shard?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function register(host: string, username: string): Promise<string> {
    const response = await call(port, host, 'POST', '/register', {
      body: { username, password: `${username}-pw`, auth: { type: 'm.login.dummy' } },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.access_token as string;
  }

  async function metrics(): Promise<string> {
    return (await shard.metrics.render()).body;
  }

  it('counts a federated message on both sides, per server_name', async () => {
    // Running, federation not used yet: every series there at 0.
    await register(ALPHA, 'warmup');
    const before = await metrics();
    expect(
      sample(
        before,
        'marina_federation_outbound_transactions_total',
        `server_name="${ALPHA}",result="sent"`,
      ),
    ).toBe(0);
    // Beta has not started: no series of it (as for a hibernated tenant).
    const federationLines = before
      .split('\n')
      .filter((line) => line.startsWith('marina_federation_'));
    expect(federationLines.filter((line) => line.includes(`server_name="${BETA}"`))).toEqual([]);

    const alice = await register(ALPHA, 'alice');
    const bob = await register(BETA, 'bob');
    const created = await call(port, ALPHA, 'POST', '/createRoom', {
      token: alice,
      body: { preset: 'public_chat' },
    });
    expect(created.status).toBe(200);
    const roomId = created.body.room_id as string;
    const joined = await call(
      port,
      BETA,
      'POST',
      `/join/${encodeURIComponent(roomId)}?server_name=${ALPHA}`,
      { token: bob, body: {} },
    );
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    const sent = await call(
      port,
      ALPHA,
      'PUT',
      `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`,
      {
        token: alice,
        body: { msgtype: 'm.text', body: 'hello beta' },
      },
    );
    expect(sent.status).toBe(200);

    // Alpha sends the message to beta in a transaction; beta accepts it.
    const deadline = Date.now() + 20_000;
    let exposition = await metrics();
    while (
      (sample(
        exposition,
        'marina_federation_inbound_pdus_total',
        `server_name="${BETA}",outcome="accepted"`,
      ) ?? 0) < 1
    ) {
      if (Date.now() > deadline) throw new Error(`no federated PDU counted:\n${exposition}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      exposition = await metrics();
    }
    const of = (name: string, labels: string) => sample(exposition, name, labels) ?? 0;
    expect(
      of('marina_federation_outbound_transactions_total', `server_name="${ALPHA}",result="sent"`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      of('marina_federation_outbound_pdus_total', `server_name="${ALPHA}"`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      of('marina_federation_inbound_transactions_total', `server_name="${BETA}",result="accepted"`),
    ).toBeGreaterThanOrEqual(1);
    expect(
      of('marina_federation_inbound_transactions_total', `server_name="${BETA}",result="refused"`),
    ).toBe(0);
    // Alpha has a sender for beta (none per destination in the labels: only a count by state).
    const destinations = ['sending', 'backing_off', 'idle'].map((state) =>
      of('marina_federation_outbound_destinations', `server_name="${ALPHA}",state="${state}"`),
    );
    expect(destinations.reduce((sum, count) => sum + count, 0)).toBe(1);
    expect(exposition).toMatch(/# TYPE marina_federation_outbound_transactions_total counter/);
    expect(exposition).toMatch(/# TYPE marina_federation_outbound_destinations gauge/);
  });
});
