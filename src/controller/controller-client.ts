import { controllerPaths, readAdminToken, readControllerFile } from './controller-files.js';
import type {
  DeletedTenant,
  DrainResult,
  MoveRecord,
  MoveResult,
  NewTenant,
  ShardSummary,
  TenantAdmin,
  TenantSettings,
  TenantSummary,
  UpgradeStarted,
  UpgradeStatus,
} from './tenant-admin.js';

/**
 * Talks to a running controller's admin API, found through `DIR/controller/controller.json`
 * and authenticated with `DIR/controller/admin-token`.
 */

const BASE_PATH = '/_marina/controller/v1';
const PROBE_TIMEOUT_MS = 5_000;
/** Creating a tenant generates keys and waits for its shard: allow it time. */
const REQUEST_TIMEOUT_MS = 60_000;
/**
 * A drain moves every tenant of a shard one after the other. Just under the 300 s after which
 * Node's fetch gives up waiting for response headers anyway; the drain goes on in the controller.
 */
const DRAIN_TIMEOUT_MS = 290_000;

/** The controller answered with a Matrix error. */
export class ControllerRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errcode: string | undefined,
  ) {
    super(message);
    this.name = 'ControllerRequestError';
  }
}

export interface PlacementResponse {
  version: number;
  tenants: { server_name: string; hostnames: string[]; shard_id: string; traffic_url: string }[];
}

export class ControllerClient implements TenantAdmin {
  constructor(
    readonly url: string,
    private readonly token: string,
    readonly pid?: number,
  ) {}

  /**
   * The controller running on `dataDir`, or undefined when none runs (no controller.json, or one
   * left behind by a controller that is gone). Throws when one seems to run but does not answer
   * properly, rather than let the caller edit the registry behind its back.
   */
  static async find(dataDir: string): Promise<ControllerClient | undefined> {
    const paths = controllerPaths(dataDir);
    const file = await readControllerFile(paths.controllerJson);
    if (file === undefined || !processExists(file.pid)) return undefined;
    const token = await readAdminToken(paths.adminToken);
    if (token === undefined) return undefined;
    const client = new ControllerClient(file.url, token, file.pid);
    let response: Response;
    try {
      response = await fetch(`${file.url}${BASE_PATH}/shards`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
    } catch (error) {
      if (connectionRefused(error)) return undefined;
      throw new Error(
        `the controller of ${dataDir} (pid ${file.pid}, ${file.url}, from ${paths.controllerJson}) ` +
          `does not answer: ${(error as Error).message}`,
        { cause: error },
      );
    }
    await response.body?.cancel();
    if (response.status === 401) {
      throw new Error(
        `the controller at ${file.url} refused the admin token in ${paths.adminToken}`,
      );
    }
    if (!response.ok) {
      throw new Error(`the controller at ${file.url} answered ${response.status}`);
    }
    return client;
  }

  async createTenant(tenant: NewTenant): Promise<TenantSettings> {
    return (await this.request('POST', '/tenants', {
      server_name: tenant.serverName,
      ...(tenant.hostnames !== undefined ? { hostnames: tenant.hostnames } : {}),
      ...(tenant.registration !== undefined ? { registration: tenant.registration } : {}),
      ...(tenant.mediaStore !== undefined ? { media_store: tenant.mediaStore } : {}),
    })) as TenantSettings;
  }

  async listTenants(): Promise<TenantSummary[]> {
    return ((await this.request('GET', '/tenants')) as { tenants: TenantSummary[] }).tenants;
  }

  async showTenant(serverName: string): Promise<TenantSettings> {
    return (await this.request(
      'GET',
      `/tenants/${encodeURIComponent(serverName)}`,
    )) as TenantSettings;
  }

  async deleteTenant(serverName: string, options: { purge: boolean }): Promise<DeletedTenant> {
    return (await this.request(
      'DELETE',
      `/tenants/${encodeURIComponent(serverName)}${options.purge ? '?purge=true' : ''}`,
    )) as DeletedTenant;
  }

  async placement(since?: number, timeoutMs?: number): Promise<PlacementResponse> {
    const query = new URLSearchParams();
    if (since !== undefined) query.set('since', String(since));
    if (timeoutMs !== undefined) query.set('timeout', String(timeoutMs));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return (await this.request('GET', `/placement${suffix}`)) as PlacementResponse;
  }

  /** Moves a tenant to `to`, or to the shard placement picks; answers once it serves there. */
  async moveTenant(serverName: string, to?: string): Promise<MoveResult> {
    return (await this.request(
      'POST',
      `/tenants/${encodeURIComponent(serverName)}/move`,
      to !== undefined ? { to } : {},
    )) as MoveResult;
  }

  /** The latest moves, newest first. */
  async moves(): Promise<MoveRecord[]> {
    return ((await this.request('GET', '/moves')) as { moves: MoveRecord[] }).moves;
  }

  async shards(): Promise<ShardSummary[]> {
    return ((await this.request('GET', '/shards')) as { shards: ShardSummary[] }).shards;
  }

  /** Moves every tenant off the shard, then retires it. */
  async drainShard(shardId: string): Promise<DrainResult> {
    return (await this.request('POST', `/shards/${encodeURIComponent(shardId)}/drain`, undefined, {
      timeoutMs: DRAIN_TIMEOUT_MS,
      whileWaiting: `the drain of ${shardId} goes on in the controller (see \`marina shard list\` and \`marina moves\`)`,
    })) as DrainResult;
  }

  /** Starts moving every tenant to shards of `version` (default: the controller's own version). */
  async startUpgrade(version?: string): Promise<UpgradeStarted> {
    return (await this.request(
      'POST',
      '/upgrade',
      version !== undefined ? { version } : {},
    )) as UpgradeStarted;
  }

  async upgradeStatus(): Promise<UpgradeStatus> {
    return (await this.request('GET', '/upgrade')) as UpgradeStatus;
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    options: { timeoutMs?: number; whileWaiting?: string } = {},
  ): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    let response: Response;
    try {
      response = await fetch(`${this.url}${BASE_PATH}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if ((error as Error | null)?.name !== 'TimeoutError') throw error;
      const more = options.whileWaiting !== undefined ? `; ${options.whileWaiting}` : '';
      throw new Error(
        `the controller at ${this.url} did not answer ${method} ${path} within ${timeoutMs / 1000} s${more}`,
        { cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed ?? {}) as { errcode?: string; error?: string };
      throw new ControllerRequestError(
        error.error ?? `the controller answered ${response.status}`,
        response.status,
        error.errcode,
      );
    }
    return parsed;
  }
}

function processExists(pid: number): boolean {
  try {
    // Signal 0 only checks that the process exists.
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } } | null)?.cause;
  return cause?.code === 'ECONNREFUSED';
}
