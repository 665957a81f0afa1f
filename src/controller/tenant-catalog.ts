import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { MatrixError } from '../core/errors.js';
import { parseSigningKeyFile } from '../protocol/signing-key.js';
import { controllerPaths } from './controller-files.js';
import { LocalTenantStore } from './local-tenant-store.js';
import {
  NoShardRoomError,
  Registry,
  RegistryConflictError,
  type ChooseShard,
  type TenantRecord,
} from './registry/registry.js';
import {
  unknownTenant,
  type DeletedTenant,
  type NewTenant,
  type TenantSettings,
} from './tenant-admin.js';

/**
 * The tenants of a data directory: the registry (names, hosts, placement) kept in step with the
 * tenant folders (settings, keys, data). `DIR/tenants/` holds exactly the tenants: opening the
 * catalog adopts folders the registry does not know (data directories from before the registry,
 * folders moved back from `deleted-tenants/`) and forgets registry entries whose folder is gone.
 * Changes run one at a time.
 */
export class TenantCatalog {
  private serial: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly store: LocalTenantStore,
    readonly registry: Registry,
    private readonly logger: Logger | undefined,
  ) {}

  static async open(dataDir: string, logger?: Logger): Promise<TenantCatalog> {
    const store = new LocalTenantStore(dataDir);
    const registry = await Registry.open(controllerPaths(dataDir).registry);
    const catalog = new TenantCatalog(store, registry, logger);
    try {
      await catalog.reconcile();
    } catch (error) {
      await registry.close();
      throw error;
    }
    return catalog;
  }

  async close(): Promise<void> {
    await this.serial.catch(() => {});
    await this.registry.close();
  }

  /**
   * Creates the tenant's folder and registers it, placed by `choose` (unplaced without it). A
   * refused creation leaves neither folder nor registry entry behind.
   */
  async create(tenant: NewTenant, choose?: ChooseShard): Promise<TenantRecord> {
    return this.oneAtATime(async () => {
      const { serverName } = tenant;
      if (
        (await this.registry.getTenant(serverName)) !== undefined ||
        (await this.store.exists(serverName))
      ) {
        throw conflict(`tenant ${serverName} already exists`);
      }
      const config = await this.store.create(serverName, {
        hostnames: tenant.hostnames,
        registrationMode: tenant.registration,
        mediaStore: tenant.mediaStore,
      });
      try {
        return await this.registry.addTenant(
          { serverName, hostnames: config.hostnames, createdTs: Date.now() },
          choose,
        );
      } catch (error) {
        await this.store.remove(serverName, { purge: true });
        if (error instanceof RegistryConflictError) throw conflict(error.message);
        if (error instanceof NoShardRoomError) {
          throw new MatrixError(
            'M_RESOURCE_LIMIT_EXCEEDED',
            `${error.message}: every shard holds maxTenantsPerShard tenants ` +
              '(raise --max-tenants-per-shard or --shards)',
          );
        }
        throw error;
      }
    });
  }

  /**
   * Forgets the tenant, calls `beforeDataRemoval` (the controller stops it on its shard there),
   * then purges its folder or moves it to `deleted-tenants/`.
   */
  async remove(
    serverName: string,
    options: { purge: boolean },
    beforeDataRemoval?: (tenant: TenantRecord) => Promise<void>,
  ): Promise<DeletedTenant> {
    return this.oneAtATime(async () => {
      const removed = await this.registry.removeTenant(serverName);
      if (removed === undefined) throw unknownTenant(serverName, this.store.dataDir);
      await beforeDataRemoval?.(removed);
      const { keptAt } = await this.store.remove(serverName, options);
      return {
        server_name: serverName,
        purged: options.purge,
        ...(keptAt !== undefined ? { kept_at: keptAt } : {}),
      };
    });
  }

  async get(serverName: string): Promise<TenantRecord> {
    const tenant = await this.registry.getTenant(serverName);
    if (tenant === undefined) throw unknownTenant(serverName, this.store.dataDir);
    return tenant;
  }

  /** The tenant's settings (tenant.json with absolute paths), its key and its shard. */
  async settings(serverName: string): Promise<TenantSettings> {
    const tenant = await this.get(serverName);
    const config = await this.store.load(serverName);
    // A tenant with an unreadable key is still shown (it is reported as failed where it runs).
    const [signingKey] = await readFile(config.signing_key_path, 'utf8').then(
      (text) => {
        try {
          return parseSigningKeyFile(text);
        } catch {
          return [];
        }
      },
      () => [],
    );
    return {
      ...config,
      shard_id: tenant.shardId,
      created_ts: tenant.createdTs,
      tenant_dir: this.store.tenantDir(serverName),
      ...(signingKey !== undefined
        ? { signing_key_id: signingKey.keyId, verify_key: signingKey.publicKey }
        : {}),
    };
  }

  private async reconcile(): Promise<void> {
    const folders = new Set(await this.store.list());
    const known = new Set((await this.registry.listTenants()).map((t) => t.serverName));
    for (const serverName of known) {
      if (folders.has(serverName)) continue;
      await this.registry.removeTenant(serverName);
      this.logger?.warn(
        { server_name: serverName, tenant_dir: this.store.tenantDir(serverName) },
        `forgot tenant ${serverName}: its folder is gone`,
      );
    }
    for (const serverName of folders) {
      if (known.has(serverName)) continue;
      const dir = this.store.tenantDir(serverName);
      try {
        const config = await this.store.load(serverName);
        if (config.server_name !== serverName) {
          throw new Error(`its tenant.json names ${config.server_name}`);
        }
        await this.registry.addTenant({
          serverName,
          hostnames: config.hostnames,
          createdTs: Math.round((await stat(dir)).birthtimeMs || Date.now()),
        });
        this.logger?.info({ server_name: serverName, tenant_dir: dir }, `adopted tenant folder`);
      } catch (error) {
        this.logger?.warn(
          { server_name: serverName, tenant_dir: dir, err: error },
          `ignoring the tenant folder ${dir}: ${(error as Error).message}`,
        );
      }
    }
  }

  private oneAtATime<T>(task: () => Promise<T>): Promise<T> {
    const run = this.serial.then(task, task);
    this.serial = run.catch(() => {});
    return run;
  }
}

function conflict(message: string): MatrixError {
  return new MatrixError('M_UNKNOWN', message, { status: 409 });
}
