import type { Logger } from 'pino';
import type {
  DeletedTenant,
  NewTenant,
  TenantAdmin,
  TenantSettings,
  TenantSummary,
} from './tenant-admin.js';
import { TenantCatalog } from './tenant-catalog.js';

/**
 * `marina tenant …` when no controller runs: the registry and the tenant folders are edited
 * directly. New tenants wait unplaced; the controller places them (and hands them to a shard)
 * when it next starts.
 */
export class OfflineTenantAdmin implements TenantAdmin {
  private constructor(private readonly catalog: TenantCatalog) {}

  static async open(dataDir: string, logger?: Logger): Promise<OfflineTenantAdmin> {
    return new OfflineTenantAdmin(await TenantCatalog.open(dataDir, logger));
  }

  async close(): Promise<void> {
    await this.catalog.close();
  }

  async createTenant(tenant: NewTenant): Promise<TenantSettings> {
    const created = await this.catalog.create(tenant);
    return this.catalog.settings(created.serverName);
  }

  async listTenants(): Promise<TenantSummary[]> {
    return (await this.catalog.registry.listTenants()).map((tenant) => ({
      server_name: tenant.serverName,
      hostnames: [...tenant.hostnames],
      shard_id: tenant.shardId,
      state: 'stopped',
    }));
  }

  async showTenant(serverName: string): Promise<TenantSettings> {
    return { ...(await this.catalog.settings(serverName)), state: 'stopped' };
  }

  async deleteTenant(serverName: string, options: { purge: boolean }): Promise<DeletedTenant> {
    return this.catalog.remove(serverName, options);
  }
}
