import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerAdmin, type ControllerAdmin } from '../helpers/controller-admin.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { localhostFetch } from '../helpers/localhost-fetch.js';
import { runMarina, startMarina, type MarinaProcess } from '../helpers/marina-process.js';
import {
  runSyncScenario,
  type ClientCredentials,
  type SyncScenarioResult,
} from '../helpers/sync-scenario.js';

/**
 * Issue 4's proof with real processes: one `marina up` (controller and router, one shard
 * process), three tenants created with the CLI while it runs, reached by their names through
 * the router (`http://alpha.localhost:PORT`) as a browser would. The matrix-js-sdk scenario of
 * the client-server core runs on all three at once; then isolation, hibernation, tenants
 * coming and going under traffic, and a broken tenant beside healthy ones.
 */

const TENANTS = ['alpha.localhost', 'beta.localhost', 'gamma.localhost'] as const;
type Tenant = (typeof TENANTS)[number];
const [ALPHA, BETA, GAMMA] = TENANTS;
/** Short, so that an idle tenant hibernates within the test. */
const IDLE_HIBERNATE_MS = 1_500;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Each tenant's password is its own, so that a password of one tenant fails on another. */
const passwordOf = (tenant: string, user: string) => `${user} secret pw of ${tenant}`;

describe('marina up: three tenants on one shard', () => {
  let dataDir: string;
  let marina: MarinaProcess;
  let port: string;
  let admin: ControllerAdmin;
  const users = new Map<string, { alice: ClientCredentials; bob: ClientCredentials }>();
  const scenarios = new Map<string, SyncScenarioResult>();

  const cli = (args: string[]) => runMarina([...args, '--data-dir', dataDir]);
  const baseUrl = (tenant: string) => `http://${tenant}:${port}`;
  /** A client-server API call to a tenant through the router, by the tenant's name. */
  const call = async (
    tenant: string,
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: Json }> => {
    const response = await localhostFetch(`${baseUrl(tenant)}/_matrix/client/v3${path}`, {
      method,
      headers: {
        ...(options.token !== undefined ? { Authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const login = async (tenant: string, user: string): Promise<ClientCredentials> => {
    const response = await call(tenant, 'POST', '/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password: passwordOf(tenant, user),
      },
    });
    expect(response.status).toBe(200);
    expect(response.body.user_id).toBe(`@${user}:${tenant}`);
    return {
      userId: response.body.user_id,
      deviceId: response.body.device_id,
      accessToken: response.body.access_token,
    };
  };
  const whoami = (tenant: string, token: string) =>
    call(tenant, 'GET', '/account/whoami', { token });
  const stateOf = async (tenant: string): Promise<string | undefined> =>
    (
      (await admin('GET', '/tenants')).body.tenants as { server_name: string; state: string }[]
    ).find((t) => t.server_name === tenant)?.state;
  const waitForState = async (tenant: string, state: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    let now = await stateOf(tenant);
    while (now !== state && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = await stateOf(tenant);
    }
    expect(now).toBe(state);
  };
  /** The room's message bodies, oldest first, read with /messages (redacted: undefined). */
  const history = async (tenant: string, token: string, roomId: string) => {
    const events: { type: string; content: { body?: string } }[] = [];
    let from = '';
    for (;;) {
      const response = await call(
        tenant,
        'GET',
        `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1000${from}`,
        { token },
      );
      expect(response.status).toBe(200);
      events.push(...response.body.chunk);
      if (response.body.end === undefined || response.body.chunk.length === 0) break;
      from = `&from=${encodeURIComponent(response.body.end)}`;
    }
    return events
      .filter((event) => event.type === 'm.room.message')
      .map((event) => event.content.body)
      .reverse();
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-multi-'));
    marina = await startMarina([
      'up',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--idle-hibernate-ms',
      String(IDLE_HIBERNATE_MS),
    ]);
    port = new URL(marina.url).port;
    admin = await controllerAdmin(dataDir);

    // Each tenant created with the CLI, then its users: alice with the CLI, bob by registering
    // through the router (every `marina` run costs seconds of CPU). The same localparts on every
    // tenant, each with its own password; the three tenants side by side.
    await Promise.all(
      TENANTS.map(async (tenant) => {
        const created = await cli(['tenant', 'create', tenant, '--registration', 'open', '--json']);
        expect(created.code, created.stderr).toBe(0);
        expect(JSON.parse(created.stdout)).toMatchObject({ server_name: tenant });
        const alice = await cli([
          'user',
          'create',
          tenant,
          'alice',
          '--password',
          passwordOf(tenant, 'alice'),
        ]);
        expect(alice).toMatchObject({ code: 0, stdout: `@alice:${tenant}\n` });
        const bob = await call(tenant, 'POST', '/register', {
          body: {
            username: 'bob',
            password: passwordOf(tenant, 'bob'),
            auth: { type: 'm.login.dummy' },
          },
        });
        expect(bob).toMatchObject({ status: 200, body: { user_id: `@bob:${tenant}` } });
      }),
    );
    for (const tenant of TENANTS) {
      users.set(tenant, { alice: await login(tenant, 'alice'), bob: await login(tenant, 'bob') });
    }
  });

  afterAll(async () => {
    if (marina) expect(await marina.stop()).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('places the three tenants on the one shard and routes each by its name', async () => {
    const { tenants } = (await admin('GET', '/tenants')).body as {
      tenants: { server_name: string; shard_id: string }[];
    };
    expect(tenants.map((t) => [t.server_name, t.shard_id]).sort()).toEqual(
      [...TENANTS, 'localhost'].map((name) => [name, 'shard-0']).sort(),
    );
    for (const tenant of TENANTS) {
      const keys = await localhostFetch(`${baseUrl(tenant)}/_matrix/key/v2/server`);
      expect(((await keys.json()) as { server_name: string }).server_name).toBe(tenant);
    }
  });

  it('runs the matrix-js-sdk sync scenario on alpha, beta and gamma at once', async () => {
    const results = await Promise.all(
      TENANTS.map((tenant) =>
        runSyncScenario({
          baseUrl: baseUrl(tenant),
          fetchFn: localhostFetch,
          alice: users.get(tenant)!.alice,
          bob: users.get(tenant)!.bob,
        }),
      ),
    );
    for (const [i, result] of results.entries()) scenarios.set(TENANTS[i]!, result);
    // Each tenant holds its own rooms: six room IDs, all different.
    const roomIds = results.flatMap((r) => [r.conversation.roomId, r.history.roomId]);
    expect(new Set(roomIds).size).toBe(6);
  });

  it("keeps tokens, user IDs and rooms apart: one tenant's are unknown to another", async () => {
    for (const tenant of TENANTS) {
      const { alice } = users.get(tenant)!;
      expect(await whoami(tenant, alice.accessToken)).toEqual({
        status: 200,
        body: { user_id: `@alice:${tenant}`, device_id: alice.deviceId, is_guest: false },
      });
      for (const other of TENANTS.filter((t) => t !== tenant)) {
        expect(await whoami(other, alice.accessToken)).toMatchObject({
          status: 401,
          body: { errcode: 'M_UNKNOWN_TOKEN' },
        });
      }
    }

    // Alpha's room, asked of beta by beta's alice: beta answers exactly as for a room ID that
    // exists nowhere.
    const betaToken = users.get(BETA)!.alice.accessToken;
    const askBeta = async (roomId: string) => {
      const room = encodeURIComponent(roomId);
      return [
        await call(BETA, 'GET', `/rooms/${room}/messages?dir=b`, { token: betaToken }),
        await call(BETA, 'POST', `/join/${room}`, { token: betaToken, body: {} }),
        await call(BETA, 'PUT', `/rooms/${room}/send/m.room.message/x1`, {
          token: betaToken,
          body: { msgtype: 'm.text', body: 'hello?' },
        }),
      ].map(({ status, body }) => [status, body.errcode]);
    };
    const alphaRoomOnBeta = await askBeta(scenarios.get(ALPHA)!.conversation.roomId);
    expect(alphaRoomOnBeta).toEqual([
      [403, 'M_FORBIDDEN'],
      [404, 'M_NOT_FOUND'],
      [404, 'M_NOT_FOUND'],
    ]);
    expect(await askBeta('!NoSuchRoomAnywhere0000000000000000000000000')).toEqual(alphaRoomOnBeta);
    const joined = await call(BETA, 'GET', '/joined_rooms', { token: betaToken });
    expect(joined.body.joined_rooms.sort()).toEqual(
      [scenarios.get(BETA)!.conversation.roomId, scenarios.get(BETA)!.history.roomId].sort(),
    );

    // Alpha's bob is unknown to beta's profile directory.
    expect(
      await call(BETA, 'GET', `/profile/${encodeURIComponent(`@bob:${ALPHA}`)}/displayname`, {
        token: betaToken,
      }),
    ).toMatchObject({ status: 404 });

    // Every tenant metric of the shard carries its server_name.
    const shard = ((await admin('GET', '/shards')).body.shards as { admin_url: string }[])[0]!;
    const metrics = await (await fetch(`${shard.admin_url}/metrics`)).text();
    for (const tenant of TENANTS) {
      expect(metrics).toMatch(
        new RegExp(`marina_http_requests_total\\{[^}]*server_name="${tenant.replace('.', '\\.')}"`),
      );
    }
  });

  it("keeps media apart: each tenant's media in its own folder, another's fetched over federation", async () => {
    const upload = async (tenant: Tenant, text: string) => {
      const response = await localhostFetch(`${baseUrl(tenant)}/_matrix/media/v3/upload`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${users.get(tenant)!.alice.accessToken}`,
          'Content-Type': 'text/plain',
        },
        body: text,
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as Json).content_uri as string;
    };
    const download = async (tenant: Tenant, contentUri: string) => {
      const [serverName, mediaId] = contentUri.slice('mxc://'.length).split('/');
      const response = await localhostFetch(
        `${baseUrl(tenant)}/_matrix/client/v1/media/download/${serverName}/${mediaId}`,
        { headers: { Authorization: `Bearer ${users.get(tenant)!.alice.accessToken}` } },
      );
      return { status: response.status, text: await response.text() };
    };
    const alphaUri = await upload(ALPHA, 'only on alpha');
    expect(alphaUri).toMatch(new RegExp(`^mxc://${ALPHA.replace('.', '\\.')}/`));
    expect(await download(ALPHA, alphaUri)).toEqual({ status: 200, text: 'only on alpha' });
    // Beta has nothing of alpha's media under its own name with alpha's media ID.
    const mediaId = alphaUri.split('/').pop()!;
    expect((await download(BETA, `mxc://${BETA}/${mediaId}`)).status).toBe(404);
    // The bytes are in alpha's media folder and in no other tenant's.
    const holders = async () => {
      const holding = [];
      for (const tenant of TENANTS) {
        const files = await readdir(join(dataDir, 'tenants', tenant, 'media'), {
          recursive: true,
        });
        const texts = await Promise.all(
          files.map(async (file) => {
            const path = join(dataDir, 'tenants', tenant, 'media', file);
            return (await stat(path)).isFile() ? readFile(path, 'utf8') : '';
          }),
        );
        if (texts.includes('only on alpha')) holding.push(tenant);
      }
      return holding;
    };
    expect(await holders()).toEqual([ALPHA]);
    // Alpha's media through beta is fetched over federation (signed, through the router) and
    // cached in beta's own folder.
    expect(await download(BETA, alphaUri)).toEqual({ status: 200, text: 'only on alpha' });
    expect(await holders()).toEqual([ALPHA, BETA]);
  });

  it('registers the same localpart on two tenants as two distinct users', async () => {
    const register = (tenant: string) =>
      call(tenant, 'POST', '/register', {
        body: {
          username: 'carol',
          password: passwordOf(tenant, 'carol'),
          auth: { type: 'm.login.dummy' },
        },
      });
    const [onAlpha, onBeta] = await Promise.all([register(ALPHA), register(BETA)]);
    expect(onAlpha).toMatchObject({ status: 200, body: { user_id: `@carol:${ALPHA}` } });
    expect(onBeta).toMatchObject({ status: 200, body: { user_id: `@carol:${BETA}` } });
    // Alpha's carol's password is not beta's carol's, nor her token.
    expect(
      await call(BETA, 'POST', '/login', {
        body: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'carol' },
          password: passwordOf(ALPHA, 'carol'),
        },
      }),
    ).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect((await whoami(BETA, onAlpha.body.access_token)).status).toBe(401);
    expect((await whoami(BETA, onBeta.body.access_token)).body.user_id).toBe(`@carol:${BETA}`);
    // Registering her again on one tenant is refused there.
    expect(await register(ALPHA)).toMatchObject({
      status: 400,
      body: { errcode: 'M_USER_IN_USE' },
    });
  });

  it('hibernates an idle tenant and wakes it on a request with its data intact', async () => {
    // The scenario's clients have stopped: nothing keeps alpha awake.
    await waitForState(ALPHA, 'hibernated');
    const listed = await cli(['tenant', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toContainEqual(
      expect.objectContaining({ server_name: ALPHA, state: 'hibernated' }),
    );

    // A token from before hibernation still works: it wakes the tenant.
    const { alice } = users.get(ALPHA)!;
    expect((await whoami(ALPHA, alice.accessToken)).status).toBe(200);
    expect(await stateOf(ALPHA)).toBe('awake');

    await waitForState(ALPHA, 'hibernated');
    const fresh = await login(ALPHA, 'alice');
    const { conversation, history: historyRoom } = scenarios.get(ALPHA)!;
    expect(await history(ALPHA, fresh.accessToken, conversation.roomId)).toEqual(
      conversation.sent.map((body) => (body === 'bob 1' ? undefined : body)),
    );
    expect(await history(ALPHA, fresh.accessToken, historyRoom.roomId)).toEqual(historyRoom.sent);
    const name = await call(
      ALPHA,
      'GET',
      `/profile/${encodeURIComponent(`@bob:${ALPHA}`)}/displayname`,
      { token: fresh.accessToken },
    );
    expect(name.body).toEqual({ displayname: 'Bobby' });
  });

  it('creates, uses and deletes a tenant while another serves traffic', async () => {
    const { alice, bob } = users.get(ALPHA)!;
    const roomId = scenarios.get(ALPHA)!.conversation.roomId;
    const room = encodeURIComponent(roomId);
    const initial = await call(ALPHA, 'GET', '/sync?timeout=0', { token: bob.accessToken });
    let since: string = initial.body.next_batch;

    // Alice sends, Bob syncs and sees it, again and again until told to stop.
    const sent: string[] = [];
    const errors: string[] = [];
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const body = `loop ${i}`;
        const send = await call(ALPHA, 'PUT', `/rooms/${room}/send/m.room.message/loop-${i}`, {
          token: alice.accessToken,
          body: { msgtype: 'm.text', body },
        });
        if (send.status !== 200) errors.push(`send ${i}: ${send.status}`);
        sent.push(body);
        const sync = await call(ALPHA, 'GET', `/sync?since=${since}&timeout=5000`, {
          token: bob.accessToken,
        });
        if (sync.status !== 200) {
          errors.push(`sync ${i}: ${sync.status}`);
          continue;
        }
        since = sync.body.next_batch;
        const seen = (sync.body.rooms?.join?.[roomId]?.timeline?.events ?? []).map(
          (event: Json) => event.content.body,
        );
        if (!seen.includes(body)) errors.push(`sync ${i} lacks ${body}: ${JSON.stringify(seen)}`);
      }
    })();

    try {
      const delta = 'delta.localhost';
      const created = await cli(['tenant', 'create', delta, '--registration', 'open', '--json']);
      expect(created.code, created.stderr).toBe(0);
      const dave = await call(delta, 'POST', '/register', {
        body: { username: 'dave', password: 'dave secret pw', auth: { type: 'm.login.dummy' } },
      });
      expect(dave).toMatchObject({ status: 200, body: { user_id: `@dave:${delta}` } });
      const token = dave.body.access_token as string;
      const made = await call(delta, 'POST', '/createRoom', { token, body: { name: 'Delta' } });
      expect(made.status).toBe(200);
      const deltaRoom = made.body.room_id as string;
      const message = await call(
        delta,
        'PUT',
        `/rooms/${encodeURIComponent(deltaRoom)}/send/m.room.message/d1`,
        { token, body: { msgtype: 'm.text', body: 'hello from delta' } },
      );
      expect(message.status).toBe(200);
      const synced = await call(delta, 'GET', '/sync?timeout=0', { token });
      expect(
        synced.body.rooms.join[deltaRoom].timeline.events.map((event: Json) => event.content.body),
      ).toContain('hello from delta');

      const deleted = await cli(['tenant', 'delete', delta, '--purge']);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(await stateOf(delta)).toBeUndefined();
      // The shard no longer serves delta: its host is unknown there.
      const placement = (await admin('GET', '/placement')).body as {
        tenants: { server_name: string; traffic_url: string }[];
      };
      expect(placement.tenants.map((t) => t.server_name)).not.toContain(delta);
      const atShard = await requestWithHost(placement.tenants[0]!.traffic_url, {
        host: delta,
        path: '/_matrix/client/versions',
      });
      expect(atShard.status).toBe(404);
      expect(atShard.json).toMatchObject({ errcode: 'M_NOT_FOUND' });
      // Through the router, its host names no homeserver any more: the router's 404, never
      // another tenant (the default tenant, localhost, answers only requests by IP address).
      expect(await whoami(delta, token)).toEqual({
        status: 404,
        body: { errcode: 'M_NOT_FOUND', error: `No homeserver is served at host ${delta}` },
      });
      const keys = await localhostFetch(`${baseUrl(delta)}/_matrix/key/v2/server`);
      expect(keys.status).toBe(404);
    } finally {
      stop = true;
      await traffic;
    }
    expect(errors).toEqual([]);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect((await history(ALPHA, alice.accessToken, roomId)).slice(-sent.length)).toEqual(sent);
  });

  it('answers 503 for a tenant whose database is corrupt while the others serve', async () => {
    await waitForState(GAMMA, 'hibernated');
    const tenantDir = join(dataDir, 'tenants', GAMMA);
    await writeFile(join(tenantDir, 'homeserver.db'), Buffer.alloc(8192, 0x5a));
    await rm(join(tenantDir, 'homeserver.db-wal'), { force: true });
    await rm(join(tenantDir, 'homeserver.db-shm'), { force: true });

    const ask = (tenant: Tenant) => whoami(tenant, users.get(tenant)!.alice.accessToken);
    const [alpha, beta, gamma] = await Promise.all([ask(ALPHA), ask(BETA), ask(GAMMA)]);
    expect(gamma).toEqual({
      status: 503,
      body: {
        errcode: 'M_UNKNOWN',
        error: `The homeserver ${GAMMA} is unavailable: it failed to start`,
      },
    });
    expect(alpha.status).toBe(200);
    expect(beta.status).toBe(200);
    expect(await stateOf(GAMMA)).toBe('failed');

    // Gamma stays failed; alpha and beta go on serving writes and reads.
    for (const tenant of [ALPHA, BETA] as const) {
      const { alice } = users.get(tenant)!;
      const roomId = scenarios.get(tenant)!.history.roomId;
      const sent = await call(
        tenant,
        'PUT',
        `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/after-gamma`,
        { token: alice.accessToken, body: { msgtype: 'm.text', body: 'still here' } },
      );
      expect(sent.status).toBe(200);
      expect((await history(tenant, alice.accessToken, roomId)).at(-1)).toBe('still here');
    }
    expect((await ask(GAMMA)).status).toBe(503);
    expect(await stateOf(GAMMA)).toBe('failed');
  });
});
