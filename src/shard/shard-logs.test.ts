import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSigningKeyFile, generateSigningKey } from '../protocol/signing-key.js';
import { tenantConfigSchema, type TenantConfig } from '../services/tenant-config.js';
import { Shard } from './shard.js';

/**
 * The shard's log lines about requests, read from a pino destination stream: a line about a
 * request names its tenant (`server_name`) once the tenant is known, and the refusals an
 * operator looks into (404 unknown host, 429 queue full, 503 failed tenant) carry the `host`.
 */

type LogLine = Record<string, unknown>;

const ALPHA = 'alpha.test';
const BROKEN = 'broken.test';

describe('shard log lines about requests', () => {
  let dir: string;
  let shard: Shard;
  const lines: LogLine[] = [];

  async function tenantConfig(serverName: string): Promise<TenantConfig> {
    const tenantDir = join(dir, serverName);
    await mkdir(tenantDir, { recursive: true });
    const signingKeyPath = join(tenantDir, 'signing.key');
    await writeFile(signingKeyPath, formatSigningKeyFile([generateSigningKey()]));
    return tenantConfigSchema.parse({
      server_name: serverName,
      hostnames: [serverName],
      database: { dialect: 'sqlite', path: join(tenantDir, 'homeserver.db') },
      media_store: { kind: 'local', path: join(tenantDir, 'media') },
      signing_key_path: signingKeyPath,
      old_verify_keys: [],
      registration_mode: 'open',
      allow_guest_access: false,
      registration_shared_secret: randomBytes(32).toString('base64url'),
    });
  }

  const inject = (
    host: string,
    method: 'GET' | 'POST',
    url: string,
    options: { token?: string; body?: unknown } = {},
  ) =>
    shard.app.inject({
      method,
      url,
      headers: {
        host,
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      payload: options.body ? JSON.stringify(options.body) : undefined,
    });
  const requestLines = (path: string, status: number) =>
    lines.filter((line) => line.msg === 'request' && line.path === path && line.status === status);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'marina-shard-logs-'));
    const alpha = await tenantConfig(ALPHA);
    const broken = await tenantConfig(BROKEN);
    await writeFile(broken.signing_key_path, 'not a signing key\n');
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) {
          if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
        }
        done();
      },
    });
    shard = await Shard.start({
      logger: pino({ level: 'info' }, destination),
      tenants: [alpha, broken],
      listen: { host: '127.0.0.1', port: 0 },
      publicBaseUrlFor: (serverName) => `https://${serverName}`,
      // One long-poll at a time, none waiting: a second one is refused with 429 at once.
      limits: { maxLongPolls: 1, maxQueuedLongPolls: 0 },
      passwordHashing: { cost: { ln: 4, r: 8, p: 1 } },
    });
  });

  afterAll(async () => {
    await shard?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('names the tenant and the host on the line of a request it served', async () => {
    const response = await inject(`${ALPHA}:8448`, 'GET', '/_matrix/client/versions');
    expect(response.statusCode).toBe(200);
    expect(requestLines('/_matrix/client/versions', 200).at(-1)).toMatchObject({
      server_name: ALPHA,
      host: ALPHA,
      method: 'GET',
    });
  });

  it('puts the host on the 404 line of a host that names no tenant', async () => {
    const response = await inject('nowhere.test', 'GET', '/_matrix/client/v3/login');
    expect(response.statusCode).toBe(404);
    const line = requestLines('/_matrix/client/v3/login', 404).at(-1);
    expect(line).toMatchObject({ host: 'nowhere.test' });
    expect(line).not.toHaveProperty('server_name');
  });

  it('names the tenant and the host on the 503 lines of a tenant that failed to start', async () => {
    const response = await inject(BROKEN, 'GET', '/_matrix/client/v3/login');
    expect(response.statusCode).toBe(503);
    expect(requestLines('/_matrix/client/v3/login', 503).at(-1)).toMatchObject({
      server_name: BROKEN,
      host: BROKEN,
    });
    expect(lines.filter((line) => line.msg === 'request failed').at(-1)).toMatchObject({
      server_name: BROKEN,
      host: BROKEN,
    });
  });

  it('names the tenant and the host on the 429 line of a request past its queue', async () => {
    const registered = await inject(ALPHA, 'POST', '/_matrix/client/v3/register', {
      body: { username: 'poller', password: 'poller pw', auth: { type: 'm.login.dummy' } },
    });
    expect(registered.statusCode).toBe(200);
    const token = (registered.json() as { access_token: string }).access_token;
    const sync = '/_matrix/client/v3/sync?timeout=30000';
    const first = await inject(ALPHA, 'GET', sync, { token });
    expect(first.statusCode).toBe(200);
    const since = (first.json() as { next_batch: string }).next_batch;
    const requests = () => shard.tenantStatuses().find((t) => t.server_name === ALPHA)!.requests;
    const before = requests();
    const waiting = inject(ALPHA, 'GET', `${sync}&since=${encodeURIComponent(since)}`, { token });
    // Once counted, it holds the one long-poll slot (taken in the same step).
    const deadline = Date.now() + 5_000;
    while (requests() === before) {
      if (Date.now() > deadline) throw new Error('the long-poll was not admitted');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const refused = await inject(ALPHA, 'GET', `${sync}&since=${encodeURIComponent(since)}`, {
      token,
    });
    expect(refused.statusCode).toBe(429);
    expect(requestLines('/_matrix/client/v3/sync', 429).at(-1)).toMatchObject({
      server_name: ALPHA,
      host: ALPHA,
    });
    // Hibernating answers the waiting long-poll at once.
    await shard.hibernateTenant(ALPHA);
    expect((await waiting).statusCode).toBe(200);
  });
});
