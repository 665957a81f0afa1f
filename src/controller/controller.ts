import type { Logger } from 'pino';
import { createInternalApi, type InternalApi } from '../http/internal-api.js';
import { controllerRoutes } from './admin-routes.js';
import { ControllerClient } from './controller-client.js';
import {
  controllerPaths,
  readOrCreateAdminToken,
  removeControllerFile,
  writeControllerFile,
  type ControllerPaths,
} from './controller-files.js';
import { leastLoadedShard } from './placement.js';
import { PlacementFeed } from './placement-feed.js';
import type { PlacementSnapshot, ShardRecord, TenantRecord } from './registry/registry.js';
import { ShardAdminClient, type ShardStatus } from './shard-admin-client.js';
import type { RunningShard, ShardExit, ShardOutput } from './shard-process.js';
import { ShardSupervisor } from './shard-supervisor.js';
import type {
  DeletedTenant,
  NewTenant,
  TenantAdmin,
  TenantSettings,
  TenantState,
  TenantSummary,
} from './tenant-admin.js';
import { TenantCatalog } from './tenant-catalog.js';

/**
 * The controller of the local backend: the registry of tenants and their placement, the shard
 * processes it supervises, and the admin API (`/_marina/controller/v1`, token in
 * `DIR/controller/admin-token`) that `marina tenant …` and the router talk to.
 *
 * Changes reach a shard through that shard's queue, one at a time and in order, so that a
 * tenant created while its shard (re)starts is handed over exactly once and a deleted one is
 * never handed back.
 */

export interface ControllerOptions {
  readonly dataDir: string;
  readonly logger: Logger;
  /** The admin API's address (loopback: it hands out every tenant's secrets). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly shards: number;
  readonly maxTenantsPerShard: number;
  /** Where the shards' own output goes. */
  readonly shardOutput: ShardOutput;
  readonly shardArgs?: readonly string[];
  readonly shardReadyTimeoutMs?: number;
}

/** Tenants handed to a (re)started shard at once. */
const PUSH_CONCURRENCY = 8;
/** How long `GET /tenants` waits for a shard's status before calling it unavailable. */
const STATUS_TIMEOUT_MS = 3_000;

export class Controller implements TenantAdmin {
  private readonly queues = new Map<string, Promise<unknown>>();
  private supervisor: ShardSupervisor | undefined;
  private api: InternalApi | undefined;
  private baseUrl = '';
  private stopped: Promise<void> | undefined;

  private constructor(
    private readonly options: ControllerOptions,
    private readonly paths: ControllerPaths,
    private readonly catalog: TenantCatalog,
    private readonly feed: PlacementFeed,
    readonly shardIds: readonly string[],
  ) {}

  /**
   * Opens the registry, places waiting tenants, serves the admin API (writing controller.json),
   * then starts the shards and hands each its tenants. Rejects, with everything stopped again,
   * if another controller runs on the data directory or a shard cannot start.
   */
  static async start(options: ControllerOptions): Promise<Controller> {
    const { logger } = options;
    if (!Number.isInteger(options.shards) || options.shards < 1) {
      throw new Error(`the number of shards must be a positive integer, not ${options.shards}`);
    }
    const paths = controllerPaths(options.dataDir);
    const running = await ControllerClient.find(options.dataDir);
    if (running !== undefined) {
      throw new Error(
        `a controller already runs for ${options.dataDir} at ${running.url} (pid ${running.pid})`,
      );
    }
    const token = await readOrCreateAdminToken(paths.adminToken);
    const catalog = await TenantCatalog.open(options.dataDir, logger);
    const shardIds = Array.from({ length: options.shards }, (_, k) => `shard-${k}`);
    let controller: Controller;
    try {
      await catalog.registry.resetShards(shardIds, Date.now());
      const version = await catalog.registry.bumpPlacementVersion();
      controller = new Controller(options, paths, catalog, new PlacementFeed(version), shardIds);
      await controller.placeWaitingTenants();
    } catch (error) {
      await catalog.close();
      throw error;
    }
    try {
      const api = createInternalApi({
        logger: logger.child({ component: 'controller-api' }),
        token,
        routes: controllerRoutes(controller),
      });
      controller.api = api;
      controller.baseUrl = await api.listen(options.listen.host, options.listen.port);
      await writeControllerFile(paths.controllerJson, {
        url: controller.baseUrl,
        pid: process.pid,
      });
      const supervisor = new ShardSupervisor({
        dataDir: catalog.store.dataDir,
        shardIds,
        logger,
        output: options.shardOutput,
        extraArgs: options.shardArgs,
        readyTimeoutMs: options.shardReadyTimeoutMs,
        hooks: {
          ready: (shard) => controller.onShardReady(shard),
          exited: (shardId, exit) => controller.onShardExited(shardId, exit),
        },
      });
      controller.supervisor = supervisor;
      await supervisor.start();
    } catch (error) {
      await controller.stop();
      throw error;
    }
    return controller;
  }

  /** The admin API's base URL (`http://127.0.0.1:PORT`). */
  get url(): string {
    return this.baseUrl;
  }

  get dataDir(): string {
    return this.catalog.store.dataDir;
  }

  /** Kills the shards at once (a crashing process's last resort; see ShardSupervisor.killNow). */
  killShardsNow(): void {
    this.supervisor?.killNow();
  }

  /** Stops long-polls, the admin API and the shards; removes controller.json. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.stopEverything();
    return this.stopped;
  }

  async createTenant(tenant: NewTenant): Promise<TenantSettings> {
    const created = await this.catalog.create(tenant, (loads) =>
      leastLoadedShard(loads, this.options.maxTenantsPerShard),
    );
    this.options.logger.info(
      { server_name: created.serverName, shard_id: created.shardId, hostnames: created.hostnames },
      `created tenant ${created.serverName} on ${created.shardId}`,
    );
    if (created.shardId !== null) await this.handOver(created.shardId, created.serverName);
    await this.publishPlacement();
    return this.catalog.settings(created.serverName);
  }

  async listTenants(): Promise<TenantSummary[]> {
    const tenants = await this.catalog.registry.listTenants();
    const statuses = await this.shardStatuses();
    return tenants.map((tenant) => ({
      server_name: tenant.serverName,
      hostnames: [...tenant.hostnames],
      shard_id: tenant.shardId,
      state: stateOf(tenant, statuses),
    }));
  }

  /** Its settings, and its state as its shard reports it (as in `listTenants`). */
  async showTenant(serverName: string): Promise<TenantSettings> {
    const settings = await this.catalog.settings(serverName);
    const tenant = await this.catalog.registry.getTenant(serverName);
    if (tenant === undefined) return settings;
    return { ...settings, state: stateOf(tenant, await this.shardStatuses()) };
  }

  async deleteTenant(serverName: string, options: { purge: boolean }): Promise<DeletedTenant> {
    const deleted = await this.catalog.remove(serverName, options, async (tenant) => {
      // Routers forget it first, then its shard stops it; only then does its data go.
      await this.publishPlacement();
      if (tenant.shardId !== null) await this.takeBack(tenant.shardId, serverName);
    });
    this.options.logger.info(
      { server_name: serverName, purged: options.purge, kept_at: deleted.kept_at },
      `deleted tenant ${serverName}`,
    );
    // A freed place may let a waiting tenant in.
    await this.placeWaitingTenants();
    return deleted;
  }

  /** The placement table once its version differs from `since` (or at the timeout). */
  async placement(
    since: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<PlacementSnapshot> {
    if (since !== undefined) await this.feed.waitForChange(since, timeoutMs, signal);
    return this.catalog.registry.placement();
  }

  async shards(): Promise<(ShardRecord & { tenants: number })[]> {
    const loads = new Map(
      (await this.catalog.registry.shardLoads()).map((load) => [load.shardId, load.tenants]),
    );
    return (await this.catalog.registry.listShards()).map((shard) => ({
      ...shard,
      tenants: loads.get(shard.id) ?? 0,
    }));
  }

  private async stopEverything(): Promise<void> {
    const { logger } = this.options;
    this.feed.close();
    await removeControllerFile(this.paths.controllerJson).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not remove controller.json'),
    );
    await this.api?.close();
    await this.supervisor?.stop();
    for (const shardId of this.shardIds) {
      await this.catalog.registry
        .updateShard(shardId, { state: 'stopped', pid: null, adminUrl: null, now: Date.now() })
        .catch(() => {});
    }
    await this.catalog.close();
  }

  private async onShardReady(shard: RunningShard): Promise<void> {
    const { registry } = this.catalog;
    await registry.updateShard(shard.shardId, {
      state: 'starting',
      pid: shard.pid,
      adminUrl: shard.adminUrl,
      now: Date.now(),
    });
    const handed = await this.enqueue(shard.shardId, async () => {
      const tenants = (await registry.listTenants()).filter((t) => t.shardId === shard.shardId);
      const client = new ShardAdminClient(shard.adminUrl, shard.token);
      let next = 0;
      const worker = async () => {
        while (next < tenants.length) {
          const tenant = tenants[next++] as TenantRecord;
          await this.putTenant(client, shard.shardId, tenant.serverName);
        }
      };
      await Promise.all(Array.from({ length: PUSH_CONCURRENCY }, worker));
      return tenants.length;
    });
    await registry.updateShard(shard.shardId, {
      state: 'running',
      trafficUrl: shard.trafficUrl,
      now: Date.now(),
    });
    await this.publishPlacement();
    this.options.logger.info(
      { shard_id: shard.shardId, tenants: handed, traffic_url: shard.trafficUrl },
      `shard ${shard.shardId} serves its ${handed} tenant(s)`,
    );
  }

  private async onShardExited(shardId: string, _exit: ShardExit): Promise<void> {
    // Its traffic_url stays in the placement until the new process is up: routers answer 502
    // ("shard unreachable") meanwhile, which is the truth, rather than "no such homeserver".
    await this.catalog.registry.updateShard(shardId, {
      state: 'restarting',
      pid: null,
      adminUrl: null,
      now: Date.now(),
    });
  }

  /** Hands a tenant to its shard if the shard is up (otherwise its start will). */
  private async handOver(shardId: string, serverName: string): Promise<void> {
    await this.enqueue(shardId, async () => {
      const shard = this.supervisor?.running(shardId);
      if (shard === undefined) return;
      await this.putTenant(new ShardAdminClient(shard.adminUrl, shard.token), shardId, serverName);
    });
  }

  private async takeBack(shardId: string, serverName: string): Promise<void> {
    await this.enqueue(shardId, async () => {
      const shard = this.supervisor?.running(shardId);
      if (shard === undefined) return;
      try {
        await new ShardAdminClient(shard.adminUrl, shard.token).deleteTenant(serverName);
      } catch (error) {
        this.options.logger.warn(
          { server_name: serverName, shard_id: shardId, err: error },
          'could not take a deleted tenant off its shard',
        );
      }
    });
  }

  private async putTenant(
    client: ShardAdminClient,
    shardId: string,
    serverName: string,
  ): Promise<void> {
    try {
      await client.putTenant(await this.catalog.store.load(serverName));
    } catch (error) {
      this.options.logger.error(
        { server_name: serverName, shard_id: shardId, err: error },
        `could not hand tenant ${serverName} to ${shardId}`,
      );
    }
  }

  /** Places tenants that wait for a shard and hands them over. */
  private async placeWaitingTenants(): Promise<void> {
    const { placed, unplaced } = await this.catalog.registry.placeUnplaced((loads) =>
      leastLoadedShard(loads, this.options.maxTenantsPerShard),
    );
    for (const tenant of unplaced) {
      this.options.logger.warn(
        { server_name: tenant.serverName, max_tenants_per_shard: this.options.maxTenantsPerShard },
        `no shard has room for tenant ${tenant.serverName}; it waits (raise --max-tenants-per-shard or --shards)`,
      );
    }
    if (placed.length === 0) return;
    for (const tenant of placed) {
      if (tenant.shardId !== null) await this.handOver(tenant.shardId, tenant.serverName);
    }
    await this.publishPlacement();
  }

  private async publishPlacement(): Promise<void> {
    this.feed.publish(await this.catalog.registry.bumpPlacementVersion());
  }

  private async shardStatuses(): Promise<Map<string, ShardStatus | undefined>> {
    const entries = await Promise.all(
      this.shardIds.map(async (shardId) => {
        const shard = this.supervisor?.running(shardId);
        if (shard === undefined) return [shardId, undefined] as const;
        const status = await new ShardAdminClient(shard.adminUrl, shard.token)
          .status(STATUS_TIMEOUT_MS)
          .catch(() => undefined);
        return [shardId, status] as const;
      }),
    );
    return new Map(entries);
  }

  private enqueue<T>(shardId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(shardId) ?? Promise.resolve();
    const run = previous.then(task, task);
    this.queues.set(
      shardId,
      run.catch(() => {}),
    );
    return run;
  }
}

function stateOf(
  tenant: TenantRecord,
  statuses: ReadonlyMap<string, ShardStatus | undefined>,
): TenantState {
  if (tenant.shardId === null) return 'unplaced';
  const status = statuses.get(tenant.shardId);
  if (status === undefined) return 'shard_unavailable';
  return status.tenants.find((t) => t.server_name === tenant.serverName)?.state ?? 'pending';
}
