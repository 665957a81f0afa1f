import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { startShard, type HttpResult, type ShardProcess } from '../helpers/shard-process.js';

/**
 * What a move asks of the shard a tenant leaves (docs/shard.md, "Moves"): `DELETE` of the tenant
 * ends its `/sync` long-polls at once with a valid answer, lets requests in flight finish, and
 * marks its answers to new requests as not served (`X-Marina-Not-Served: 1`, for the router to
 * replay them); the tenant can then be put back and serves its same data.
 */

const ADMIN = '/_marina/shard/v1';
const HOST = 'mover.test';

describe('marina shard: removing a tenant for a move, and taking it back', () => {
  let dataDir: string;
  let shard: ShardProcess;
  let config: unknown;

  async function inFlight(): Promise<number> {
    const text = (await shard.admin('GET', '/metrics', { token: null })).text;
    const match = new RegExp(`marina_tenant_in_flight\\{server_name="${HOST}"\\} (\\d+)`).exec(
      text,
    );
    return Number(match?.[1] ?? 0);
  }

  async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Starts an upload of `bytes` and sends only its first half: a request in flight. */
  function startUpload(
    token: string,
    bytes: Buffer,
  ): { client: ClientRequest; answer: Promise<HttpResult> } {
    const url = new URL(shard.trafficUrl);
    let client!: ClientRequest;
    const answer = new Promise<HttpResult>((resolve, reject) => {
      client = request(
        {
          hostname: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/_matrix/media/v3/upload?filename=moved.bin',
          headers: {
            Host: HOST,
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(bytes.length),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              body: JSON.parse(text),
            }),
          );
        },
      );
      client.on('error', reject);
    });
    client.write(bytes.subarray(0, bytes.length / 2));
    return { client, answer };
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-shard-moves-'));
    const store = new LocalTenantStore(dataDir);
    config = { ...(await store.create(HOST)), registration_mode: 'open' };
    shard = await startShard(['--data-dir', dataDir]);
    expect(
      (await shard.admin('PUT', `${ADMIN}/tenants/${HOST}`, { body: { config } })).status,
    ).toBe(200);
  });

  afterAll(async () => {
    await shard?.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('ends a long-poll with a valid sync, finishes a request in flight, then serves again once put back', async () => {
    const registered = await shard.call(HOST, 'POST', '/_matrix/client/v3/register', {
      body: { username: 'mover', password: 'mover-password', auth: { type: 'm.login.dummy' } },
    });
    expect(registered.status, registered.text).toBe(200);
    const token = registered.body.access_token as string;
    const room = await shard.call(HOST, 'POST', '/_matrix/client/v3/createRoom', {
      token,
      body: { name: 'before the move' },
    });
    expect(room.status).toBe(200);

    // A client waiting in /sync, well within its 30 s timeout.
    const initial = await shard.call(HOST, 'GET', '/_matrix/client/v3/sync', { token });
    expect(initial.status).toBe(200);
    const since = encodeURIComponent(initial.body.next_batch as string);
    const longPoll = shard.call(
      HOST,
      'GET',
      `/_matrix/client/v3/sync?since=${since}&timeout=30000`,
      { token },
    );
    await waitFor(async () => (await inFlight()) === 1, 'the long-poll to be in flight');
    // An ordinary request in flight: an upload whose body has only half arrived.
    const bytes = randomBytes(20_000);
    const upload = startUpload(token, bytes);
    await waitFor(async () => (await inFlight()) === 2, 'the upload to be in flight');

    const deleteStarted = Date.now();
    let deleted: HttpResult | undefined;
    const deleting = shard.admin('DELETE', `${ADMIN}/tenants/${HOST}`).then((result) => {
      deleted = result;
      return result;
    });

    const synced = await longPoll;
    expect(Date.now() - deleteStarted).toBeLessThan(3_000);
    expect(synced.status).toBe(200);
    expect(synced.body.next_batch).toEqual(expect.any(String));
    expect(synced.headers['x-marina-not-served']).toBeUndefined();

    // New requests are refused as not served here; the upload in flight holds the DELETE.
    const refused = await shard.call(HOST, 'GET', '/_matrix/client/v3/account/whoami', {
      token,
    });
    expect(refused.status).toBe(404);
    expect(refused.body).toEqual({
      errcode: 'M_NOT_FOUND',
      error: `No homeserver is served at host ${HOST}`,
    });
    expect(refused.headers['x-marina-not-served']).toBe('1');
    expect(deleted).toBeUndefined();

    upload.client.end(bytes.subarray(bytes.length / 2));
    const uploaded = await upload.answer;
    expect(uploaded.status, uploaded.text).toBe(200);
    const contentUri = uploaded.body.content_uri as string;
    expect(contentUri).toMatch(new RegExp(`^mxc://${HOST}/`));
    expect((await deleting).status).toBe(200);
    const status = await shard.admin('GET', `${ADMIN}/status`);
    expect(status.body.tenants).toEqual([]);

    // Put back on the same shard: the same data, the same sessions.
    expect(
      (await shard.admin('PUT', `${ADMIN}/tenants/${HOST}`, { body: { config } })).status,
    ).toBe(200);
    const whoami = await shard.call(HOST, 'GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.status).toBe(200);
    expect(whoami.body.user_id).toBe('@mover:mover.test');
    const rooms = await shard.call(HOST, 'GET', '/_matrix/client/v3/joined_rooms', { token });
    expect(rooms.body.joined_rooms).toEqual([room.body.room_id]);
    const mediaPath = contentUri.slice('mxc://'.length);
    const downloaded = await download(`/_matrix/client/v1/media/download/${mediaPath}`, token);
    expect(downloaded.equals(bytes)).toBe(true);
  });

  it('marks a host it does not serve as not served', async () => {
    const response = await shard.call('elsewhere.test', 'GET', '/_matrix/client/versions');
    expect(response.status).toBe(404);
    expect(response.body.errcode).toBe('M_NOT_FOUND');
    expect(response.headers['x-marina-not-served']).toBe('1');
  });

  function download(path: string, token: string): Promise<Buffer> {
    const url = new URL(shard.trafficUrl);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          hostname: url.hostname,
          port: url.port,
          path,
          headers: { Host: HOST, Authorization: `Bearer ${token}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks))
              : reject(new Error(`download answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
});
