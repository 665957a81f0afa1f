import type { TenantConfig } from '../services/tenant-config.js';

/**
 * Calls a shard's admin API (`/_marina/shard/v1`, see docs/shard.md): hand it a tenant, take one
 * away, ask what its tenants are doing.
 */

const REQUEST_TIMEOUT_MS = 15_000;

export type ShardTenantState = 'hibernated' | 'starting' | 'awake' | 'failed';

export interface ShardStatus {
  shard_id: string;
  tenants: {
    server_name: string;
    state: ShardTenantState;
    requests?: number;
    last_active_ts?: number | null;
    error?: string;
  }[];
}

export class ShardAdminError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'ShardAdminError';
  }
}

export class ShardAdminClient {
  constructor(
    readonly adminUrl: string,
    private readonly token: string,
  ) {}

  /** Registers (or replaces) a tenant on the shard; it starts on its first request. */
  async putTenant(config: TenantConfig): Promise<void> {
    await this.call('PUT', `/tenants/${encodeURIComponent(config.server_name)}`, { config });
  }

  /** Stops the tenant if awake and forgets it; its data is untouched. */
  async deleteTenant(serverName: string): Promise<void> {
    await this.call('DELETE', `/tenants/${encodeURIComponent(serverName)}`);
  }

  async status(timeoutMs = REQUEST_TIMEOUT_MS): Promise<ShardStatus> {
    return (await this.call('GET', '/status', undefined, timeoutMs)) as ShardStatus;
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<unknown> {
    const url = `${this.adminUrl}/_marina/shard/v1${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ShardAdminError(`${method} ${url} failed: ${(error as Error).message}`, undefined);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ShardAdminError(
        `${method} ${url} answered ${response.status}: ${text.slice(0, 300)}`,
        response.status,
      );
    }
    return text === '' ? {} : (JSON.parse(text) as unknown);
  }
}
