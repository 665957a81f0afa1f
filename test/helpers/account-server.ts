import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { tenantEndpoints } from '../../src/api/endpoints.js';
import { LocalTenantStore } from '../../src/controller/local-tenant-store.js';
import { startHomeserver, type Homeserver } from '../../src/homeserver/homeserver.js';
import { createHttpApp, type HttpApp } from '../../src/http/http-app.js';
import type { TenantConfig } from '../../src/services/tenant-config.js';
import { TEST_PASSWORD_HASHING } from './account-services.js';
import { ManualClock } from './manual-clock.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface CallOptions {
  body?: unknown;
  /** Sent as is (to test bodies that are not JSON). */
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

export interface Response {
  status: number;
  body: Json;
}

/**
 * A real tenant (SQLite, in a temp data dir) behind the real HTTP app on a real socket, with a
 * clock the test controls. `restart()` stops the tenant and starts it again on the same data.
 */
export class AccountServer {
  private homeserver!: Homeserver;
  private app!: HttpApp;
  private dataDir!: string;
  readonly clock = new ManualClock();
  config!: TenantConfig;
  url = '';

  /** Cheap password hashing unless `realPasswordHashing` (scrypt N=2^17, as in production). */
  private realPasswordHashing = false;

  static async start(
    overrides: Partial<TenantConfig> = {},
    options: { realPasswordHashing?: boolean } = {},
  ): Promise<AccountServer> {
    const server = new AccountServer();
    server.realPasswordHashing = options.realPasswordHashing === true;
    server.dataDir = await mkdtemp(join(tmpdir(), 'marina-accounts-'));
    const store = new LocalTenantStore(server.dataDir);
    server.config = { ...(await store.create('alpha.test')), ...overrides };
    await server.startTenant();
    const logger = pino({ level: 'silent' });
    server.app = createHttpApp({
      logger,
      endpoints: tenantEndpoints,
      resolveTenant: async () => server.homeserver.context,
    });
    server.url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    return server;
  }

  get context() {
    return this.homeserver.context;
  }

  async restart(): Promise<void> {
    await this.homeserver.stop();
    await this.startTenant();
  }

  async stop(): Promise<void> {
    await this.app?.close();
    await this.homeserver?.stop();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  private async startTenant(): Promise<void> {
    this.homeserver = await startHomeserver(this.config, {
      logger: pino({ level: 'silent' }),
      defaultPublicBaseUrl: 'https://alpha.test',
      clock: this.clock,
      passwordHashing: this.realPasswordHashing ? undefined : TEST_PASSWORD_HASHING,
    });
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    const response = await fetch(this.url + path, { method, headers, body });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  /** Creates a user through shared-secret registration (works in every registration mode). */
  async createUser(
    username: string,
    password: string,
    options: { admin?: boolean } = {},
  ): Promise<{ userId: string; accessToken: string; deviceId: string }> {
    const nonce = (await this.call('GET', '/_synapse/admin/v1/register')).body.nonce as string;
    const admin = options.admin === true;
    const mac = sharedSecretMac(this.config.registration_shared_secret, {
      nonce,
      username,
      password,
      admin,
    });
    const response = await this.call('POST', '/_synapse/admin/v1/register', {
      body: { nonce, username, password, admin, mac },
    });
    if (response.status !== 200) {
      throw new Error(`shared-secret registration failed: ${JSON.stringify(response.body)}`);
    }
    return {
      userId: response.body.user_id,
      accessToken: response.body.access_token,
      deviceId: response.body.device_id,
    };
  }

  /** Logs in with a password; returns the whole response body. */
  async login(user: string, password: string, extra: Record<string, unknown> = {}): Promise<Json> {
    const response = await this.call('POST', '/_matrix/client/v3/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password,
        ...extra,
      },
    });
    if (response.status !== 200) throw new Error(`login failed: ${JSON.stringify(response.body)}`);
    return response.body;
  }
}

/** The MAC of Synapse's shared-secret registration, computed independently of the server. */
export function sharedSecretMac(
  secret: string,
  fields: { nonce: string; username: string; password: string; admin: boolean },
): string {
  return createHmac('sha1', secret)
    .update(
      [fields.nonce, fields.username, fields.password, fields.admin ? 'admin' : 'notadmin'].join(
        '\0',
      ),
    )
    .digest('hex');
}
