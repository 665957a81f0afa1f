import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import type { PlacedTenant } from '../../src/router/placement.js';
import { StaticPlacementSource } from '../../src/router/placement-source.js';
import { Router, type RouterOptions } from '../../src/router/router.js';
import { requestWithHost, type HostRequest } from '../helpers/http-with-host.js';
import { startShard, type ShardProcess } from '../helpers/shard-process.js';

/**
 * The router's side of a tenant move (docs/router.md, "Moves"), with real shard processes and
 * placements handed over directly: requests of a moving tenant are held, bodies unread, until
 * the placement that ends the move; a held request gives up with 503 after `moveHoldMs`; a
 * client that leaves while held is dropped; a request the old shard did not serve
 * (`X-Marina-Not-Served`) is sent again by the next placement; an unreachable shard is a 503.
 */

const ADMIN = '/_marina/shard/v1';
const HOST = 'mover.test';
type LogLine = Record<string, unknown>;

describe('router during tenant moves', () => {
  let dataDir: string;
  let config: unknown;
  let shardA: ShardProcess;
  let shardB: ShardProcess;
  let version = 1;
  const routers: Router[] = [];
  const lines: LogLine[] = [];

  async function putTenant(shard: ShardProcess): Promise<void> {
    const response = await shard.admin('PUT', `${ADMIN}/tenants/${HOST}`, { body: { config } });
    expect(response.status, response.text).toBe(200);
  }

  async function deleteTenant(shard: ShardProcess): Promise<void> {
    expect((await shard.admin('DELETE', `${ADMIN}/tenants/${HOST}`)).status).toBe(200);
  }

  function placement(shard: ShardProcess, moving = false) {
    const tenant: PlacedTenant = {
      server_name: HOST,
      hostnames: [],
      shard_id: shard.shardId,
      traffic_url: shard.trafficUrl,
      moving,
    };
    version += 1;
    return { version, tenants: [tenant] };
  }

  async function startRouter(
    source: StaticPlacementSource,
    options: Partial<RouterOptions> = {},
  ): Promise<Router> {
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) {
          if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
        }
        done();
      },
    });
    const router = await Router.start({
      logger: pino({ level: 'debug' }, destination),
      listen: { host: '127.0.0.1', port: 0 },
      source,
      ...options,
    });
    routers.push(router);
    return router;
  }

  const callVia = (router: Router, options: HostRequest) =>
    requestWithHost(`http://127.0.0.1:${router.port}`, { host: HOST, ...options });

  async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function register(router: Router, username: string) {
    const response = await callVia(router, {
      method: 'POST',
      path: '/_matrix/client/v3/register',
      body: { username, password: `${username}-password`, auth: { type: 'm.login.dummy' } },
    });
    expect(response.status, response.text).toBe(200);
    return response.json as { user_id: string; access_token: string };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-router-moves-'));
    const store = new LocalTenantStore(dataDir);
    config = { ...(await store.create(HOST)), registration_mode: 'open' };
    [shardA, shardB] = await Promise.all([
      startShard(['--data-dir', dataDir]),
      startShard(['--data-dir', dataDir]),
    ]);
    await putTenant(shardA);
  });

  afterAll(async () => {
    for (const router of routers) await router.stop();
    await Promise.all([shardA?.stop('SIGKILL'), shardB?.stop('SIGKILL')]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('holds requests of a moving tenant, then sends them, bodies intact, to its new shard', async () => {
    const source = new StaticPlacementSource(placement(shardA));
    const router = await startRouter(source);
    const { access_token: token } = await register(router, 'resident');

    source.publish(placement(shardA, true));
    let answered = 0;
    const whoami = callVia(router, { path: '/_matrix/client/v3/account/whoami', token }).finally(
      () => (answered += 1),
    );
    // A body that comes with a held request reaches the new shard whole.
    const late = callVia(router, {
      method: 'POST',
      path: '/_matrix/client/v3/register',
      body: {
        username: 'late',
        password: 'late-password ünïcødé',
        auth: { type: 'm.login.dummy' },
      },
    }).finally(() => (answered += 1));
    await waitFor(() => router.waitingForPlacement === 2, 'both requests to be held');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(0);

    // The move: the old shard lets go, the new one takes the tenant, the placement says so.
    await deleteTenant(shardA);
    await putTenant(shardB);
    // A placement where it still moves keeps them held.
    source.publish(placement(shardA, true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(0);
    expect(router.waitingForPlacement).toBe(2);
    source.publish(placement(shardB));

    const [who, registered] = await Promise.all([whoami, late]);
    expect(who.status, who.text).toBe(200);
    expect(who.json.user_id).toBe('@resident:mover.test');
    expect(registered.status, registered.text).toBe(200);
    expect(registered.json.user_id).toBe('@late:mover.test');
    expect(router.waitingForPlacement).toBe(0);
    // Registered on the new shard, with the password as sent.
    const login = await shardB.call(HOST, 'POST', '/_matrix/client/v3/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'late' },
        password: 'late-password ünïcødé',
      },
    });
    expect(login.status).toBe(200);
    const held = lines.filter(
      (line) => line.msg === 'request' && line.path === '/_matrix/client/v3/account/whoami',
    );
    expect(held.at(-1)).toMatchObject({ status: 200, shard: shardB.shardId });
    expect(held.at(-1)?.waited_ms).toBeGreaterThanOrEqual(300);
  });

  it('holds many requests with one list, without piling up listeners', async () => {
    const source = new StaticPlacementSource(placement(shardB, true));
    const router = await startRouter(source);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const count = 200;
      const calls = Array.from({ length: count }, () =>
        callVia(router, { path: '/_matrix/client/versions' }),
      );
      await waitFor(() => router.waitingForPlacement === count, 'every request to be held');
      // A placement that changes other things only: they look again and stay held.
      source.publish(placement(shardB, true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(router.waitingForPlacement).toBe(count);
      source.publish(placement(shardB));
      const answers = await Promise.all(calls);
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(router.waitingForPlacement).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((warning) => warning.message)).toEqual([]);
  });

  it('answers 503 with Retry-After when the move outlasts moveHoldMs', async () => {
    const router = await startRouter(new StaticPlacementSource(placement(shardB, true)), {
      moveHoldMs: 600,
    });
    for (const options of [
      { path: '/_matrix/client/versions' },
      { method: 'POST', path: '/_matrix/client/v3/login', body: { type: 'm.login.password' } },
    ]) {
      const started = Date.now();
      const response = await callVia(router, options);
      const elapsed = Date.now() - started;
      expect(response.status).toBe(503);
      expect(response.json).toEqual({
        errcode: 'M_UNKNOWN',
        error: `The homeserver ${HOST} is moving; try again shortly`,
      });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.headers['access-control-allow-origin']).toBe('*');
      expect(elapsed).toBeGreaterThanOrEqual(550);
      expect(elapsed).toBeLessThan(3_000);
    }
    expect(router.waitingForPlacement).toBe(0);
  });

  it('drops a client that goes away while held', async () => {
    const source = new StaticPlacementSource(placement(shardB, true));
    const router = await startRouter(source);
    const path = '/_matrix/client/v3/gone';
    const logged = () => lines.filter((line) => line.msg === 'request' && line.path === path);
    const client = (method: string, headers: Record<string, string>) => {
      const sent = request({
        hostname: '127.0.0.1',
        port: router.port,
        method,
        path,
        headers: { Host: HOST, ...headers },
      });
      sent.on('error', () => {});
      return sent;
    };
    // One without a body, one whose body has only begun.
    const get = client('GET', {});
    get.end();
    const post = client('POST', { 'Content-Type': 'application/json', 'Content-Length': '100' });
    post.write('{"partial":');
    await waitFor(() => router.waitingForPlacement === 2, 'the requests to be held');

    const goneAt = Date.now();
    get.destroy();
    post.destroy();
    await waitFor(() => router.waitingForPlacement === 0, 'the held requests to be dropped');
    expect(Date.now() - goneAt).toBeLessThan(1_000);
    await waitFor(() => logged().length === 2, 'their log lines');
    for (const line of logged()) {
      expect(line).toMatchObject({ status: 0, failure: 'client-gone', server_name: HOST });
    }
    // Released later, they go nowhere.
    source.publish(placement(shardB));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logged()).toHaveLength(2);
  });

  it('sends a request the old shard did not serve again, by the next placement', async () => {
    // The router still sends the tenant to A, which has let it go (the router has not yet
    // heard of the move): A answers Not-Served, and the requests wait for the next placement.
    const source = new StaticPlacementSource(placement(shardB));
    const router = await startRouter(source);
    const { access_token: token } = await register(router, 'replayed');
    source.publish(placement(shardA));

    const whoami = callVia(router, { path: '/_matrix/client/v3/account/whoami', token });
    const filter = { room: { timeline: { limit: 7 } }, event_fields: ['type', 'content.body'] };
    const created = callVia(router, {
      method: 'POST',
      path: `/_matrix/client/v3/user/${encodeURIComponent('@replayed:mover.test')}/filter`,
      token,
      body: filter,
    });
    await waitFor(() => router.waitingForPlacement === 2, 'both to come back from A');
    source.publish(placement(shardB));

    const [who, filtered] = await Promise.all([whoami, created]);
    expect(who.status, who.text).toBe(200);
    expect(who.json.user_id).toBe('@replayed:mover.test');
    expect(who.headers['x-marina-not-served']).toBeUndefined();
    expect(filtered.status, filtered.text).toBe(200);
    const stored = await callVia(router, {
      path: `/_matrix/client/v3/user/${encodeURIComponent('@replayed:mover.test')}/filter/${filtered.json.filter_id}`,
      token,
    });
    expect(stored.json).toEqual(filter);
    const line = lines
      .filter(
        (entry) => entry.msg === 'request' && entry.path === '/_matrix/client/v3/account/whoami',
      )
      .at(-1);
    expect(line).toMatchObject({ status: 200, replays: 1, shard: shardB.shardId });
  });

  it('passes the 404 on, without its header, when it cannot replay or has replayed enough', async () => {
    const source = new StaticPlacementSource(placement(shardA));
    const router = await startRouter(source);

    // A body above 64 KiB: the router kept no copy.
    const big = await callVia(router, {
      method: 'POST',
      path: '/_matrix/client/v3/register',
      body: { username: 'big', padding: 'x'.repeat(70 * 1024) },
    });
    expect(big.status).toBe(404);
    expect(big.json).toEqual({
      errcode: 'M_NOT_FOUND',
      error: `No homeserver is served at host ${HOST}`,
    });
    expect(big.headers['x-marina-not-served']).toBeUndefined();
    expect(router.waitingForPlacement).toBe(0);

    // Sent again at each of 3 placements that still say A, then passed on.
    let done = false;
    const stubborn = callVia(router, { path: '/_matrix/client/versions' }).finally(
      () => (done = true),
    );
    for (let replay = 1; replay <= 3; replay += 1) {
      await waitFor(() => router.waitingForPlacement === 1, `wait ${replay}`);
      source.publish(placement(shardA));
    }
    const answer = await stubborn;
    expect(done).toBe(true);
    expect(answer.status).toBe(404);
    expect(answer.json.errcode).toBe('M_NOT_FOUND');
    expect(answer.headers['x-marina-not-served']).toBeUndefined();
    const line = lines
      .filter((entry) => entry.msg === 'request' && entry.path === '/_matrix/client/versions')
      .at(-1);
    expect(line).toMatchObject({ status: 404, replays: 3 });
  });

  it('answers 503 with Retry-After when the shard is gone', async () => {
    const router = await startRouter(new StaticPlacementSource(placement(shardA)));
    await shardA.stop('SIGKILL');
    const response = await callVia(router, { path: '/_matrix/client/versions' });
    expect(response.status).toBe(503);
    expect(response.json).toEqual({
      errcode: 'M_UNKNOWN',
      error: `The homeserver ${HOST} cannot be reached right now`,
    });
    expect(response.headers['retry-after']).toBe('1');
  });
});
