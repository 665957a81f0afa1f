import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controllerAdmin, type ControllerAdmin } from './controller-admin.js';
import { freePort } from './free-port.js';
import { startMarina, type MarinaProcess } from './marina-process.js';

/**
 * A real `marina up` on a fresh data dir, for the tests and benchmarks that drive the controller
 * while clients talk to tenants through the router: where each tenant is reached, the admin API,
 * and small readers of the controller's tenants and shards (issue 5's contract shapes).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface ShardInfo {
  shard_id: string;
  /** The Marina version the shard runs (issue 5); absent from controllers before it. */
  version?: string;
  state: string;
  pid: number | null;
  admin_url: string;
  traffic_url: string;
  tenants: number;
}

export interface TenantInfo {
  server_name: string;
  hostnames: string[];
  shard_id: string | null;
  state: string;
}

export interface MarinaUp {
  readonly dataDir: string;
  readonly marina: MarinaProcess;
  /** The router's port. */
  readonly port: number;
  readonly admin: ControllerAdmin;
  /**
   * The base URL clients reach a tenant at through the router: `http://<name>:PORT` (reach it
   * with `localhostFetch`), or `http://127.0.0.1:PORT` for the embedded tenant `localhost`,
   * which answers requests addressed by IP address.
   */
  tenantUrl(serverName: string): string;
  /** Creates a tenant with the admin API (as `marina tenant create`); its settings. */
  createTenant(serverName: string, registration?: 'open' | 'token' | 'closed'): Promise<Json>;
  /** `DELETE /tenants/:serverName?purge=true`; throws unless 200. */
  deleteTenant(serverName: string): Promise<void>;
  tenants(): Promise<TenantInfo[]>;
  tenant(serverName: string): Promise<TenantInfo>;
  shards(): Promise<ShardInfo[]>;
  /** Stops `marina up` with SIGTERM and removes the data dir; the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs `marina up --listen 127.0.0.1:0 --data-dir <temp> …args`; resolves once it serves. With
 * `logLevel`, it and its shards log at that level (`MARINA_LOG_LEVEL`; benchmarks use `warn`,
 * without a line per request) and it listens on a port chosen beforehand.
 */
export async function startMarinaUp(
  args: string[] = [],
  timeoutMs = 60_000,
  options: { logLevel?: string } = {},
): Promise<MarinaUp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'marina-up-'));
  let marina: MarinaProcess;
  try {
    const port = options.logLevel === undefined ? 0 : await freePort();
    marina = await startMarina(
      ['up', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...args],
      timeoutMs,
      options.logLevel === undefined ? {} : { env: { MARINA_LOG_LEVEL: options.logLevel }, port },
    );
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const port = Number(new URL(marina.url).port);
  const admin = await controllerAdmin(dataDir);

  const expectOk = (what: string, response: { status: number; body: Json }) => {
    if (response.status !== 200) {
      throw new Error(`${what}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body;
  };
  const tenants = async (): Promise<TenantInfo[]> =>
    expectOk('GET /tenants', await admin('GET', '/tenants')).tenants;

  return {
    dataDir,
    marina,
    port,
    admin,
    tenantUrl: (serverName) =>
      serverName === 'localhost' ? `http://127.0.0.1:${port}` : `http://${serverName}:${port}`,
    async createTenant(serverName, registration = 'open') {
      return expectOk(
        `create ${serverName}`,
        await admin('POST', '/tenants', { server_name: serverName, registration }),
      );
    },
    async deleteTenant(serverName) {
      expectOk(
        `delete ${serverName}`,
        await admin('DELETE', `/tenants/${encodeURIComponent(serverName)}?purge=true`),
      );
    },
    tenants,
    async tenant(serverName) {
      const found = (await tenants()).find((tenant) => tenant.server_name === serverName);
      if (found === undefined) throw new Error(`no tenant ${serverName}`);
      return found;
    },
    async shards() {
      return expectOk('GET /shards', await admin('GET', '/shards')).shards;
    },
    async stop() {
      try {
        return await marina.stop();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}
