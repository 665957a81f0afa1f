import { join } from 'node:path';
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
import { MatrixError, invalidParam } from '../core/errors.js';
import { ControllerMetrics, type ControllerSnapshot } from './controller-metrics.js';
import {
  decidePlacement,
  isAccepting,
  shardToConsolidate,
  type PlacementKnobs,
} from './placement.js';
import { PlacementFeed } from './placement-feed.js';
import type { PlacementSnapshot, ShardRecord, TenantRecord } from './registry/registry.js';
import { RouterAcks } from './router-acks.js';
import { ShardAdminClient, type ShardStatus } from './shard-admin-client.js';
import { adoptShard } from './adopted-shard.js';
import type { ShardBackend } from './shard-backend.js';
import type { RunningShard, ShardExit, ShardOutput } from './shard-process.js';
import { ShardSupervisor } from './shard-supervisor.js';
import {
  unknownTenant,
  type DeletedTenant,
  type DrainResult,
  type MoveReason,
  type MoveRecord,
  type MoveResult,
  type NewTenant,
  type TenantAdmin,
  type TenantSettings,
  type TenantState,
  type TenantSummary,
  type UpgradeStarted,
  type UpgradeStatus,
} from './tenant-admin.js';
import { TenantCatalog } from './tenant-catalog.js';

/**
 * The controller of the local backend: the registry of tenants and their placement, the shard
 * processes it supervises, and the admin API (`/_marina/controller/v1`, token in
 * `DIR/controller/admin-token`) that `marina tenant …` and the router talk to.
 *
 * Changes reach a shard through that shard's queue, one at a time and in order, so that a
 * tenant created while its shard (re)starts is handed over exactly once and a deleted one is
 * never handed back. Placement decisions (new tenants, move targets, new shards) are taken one
 * at a time too, so two of them never take a shard's last place. A reconcile loop places
 * waiting tenants, carries upgrades forward and consolidates (docs/controller.md).
 */

export interface ControllerOptions {
  readonly dataDir: string;
  readonly logger: Logger;
  /** The admin API's address (loopback: it hands out every tenant's secrets). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Shards started at start, and the fewest consolidation leaves running. */
  readonly shards: number;
  readonly maxTenantsPerShard: number;
  /** Most shards of one Marina version (Element: maxShardsPerSynapseImageTag). Default 10. */
  readonly maxShardsPerVersion?: number;
  /** Element's avgShardsLoadRedistributionThreshold; 0 (default) turns consolidation off. */
  readonly redistributionThreshold?: number;
  /** Tenants an upgrade moves at once (default 2). */
  readonly upgradeBatch?: number;
  /** The Marina version this controller's shards run (the package version by default). */
  readonly version: string;
  /** Where the shards' own output goes. */
  readonly shardOutput: ShardOutput;
  readonly shardArgs?: readonly string[];
  readonly shardReadyTimeoutMs?: number;
  /** Pause between reconcile passes (default 1 s). */
  readonly reconcileIntervalMs?: number;
  /**
   * Shards outlive this controller (`marina controller`): they log to `DIR/logs/`, keep serving
   * if it dies, and the next controller adopts them. Otherwise (`marina up`, whose router dies
   * with it anyway) they stop when it dies.
   */
  readonly shardsOutliveController?: boolean;
  /** `stop()` leaves the shards running for the next controller (a restart). */
  readonly leaveShardsOnStop?: boolean;
}

/** Tenants handed to a (re)started shard at once. */
const PUSH_CONCURRENCY = 8;
/** How long `GET /tenants` waits for a shard's status before calling it unavailable. */
const STATUS_TIMEOUT_MS = 3_000;
/** How long a move waits for routers to hold the tenant's requests. */
const ROUTER_ACK_TIMEOUT_MS = 3_000;
/** Moves kept for `GET /moves`. */
const MOVE_HISTORY = 200;
const DEFAULT_MAX_SHARDS_PER_VERSION = 10;
const DEFAULT_UPGRADE_BATCH = 2;
const DEFAULT_RECONCILE_INTERVAL_MS = 1_000;
const TARGET_VERSION_KEY = 'target_version';
/** How often the reconcile loop asks the shards how their tenants are (the `failed` gauge). */
const STATUS_ROUND_MS = 5_000;

export class Controller implements TenantAdmin {
  private readonly queues = new Map<string, Promise<unknown>>();
  private supervisor: ShardBackend | undefined;
  private api: InternalApi | undefined;
  private baseUrl = '';
  private stopped: Promise<void> | undefined;
  private placing: Promise<unknown> = Promise.resolve();
  private readonly moving = new Set<string>();
  private readonly moves: MoveRecord[] = [];
  private readonly routerAcks = new RouterAcks();
  readonly metrics: ControllerMetrics;
  private targetVersion: string;
  /** Tenants that found every allowed shard full at their last try. */
  private readonly shardsFull = new Set<string>();
  /** What the shards reported at the last status round (for the `failed` count). */
  private lastStatuses = new Map<string, ShardStatus | undefined>();
  private lastStatusRound = 0;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  private constructor(
    private readonly options: ControllerOptions,
    private readonly paths: ControllerPaths,
    private readonly catalog: TenantCatalog,
    private readonly feed: PlacementFeed,
  ) {
    this.targetVersion = options.version;
    this.metrics = new ControllerMetrics({
      version: options.version,
      snapshot: () => this.snapshot(),
    });
  }

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
    let controller: Controller;
    let adopted: RunningShard[] = [];
    let shardIds: string[];
    try {
      // Shards an earlier controller left running keep serving; the others start afresh, with
      // this controller's version. Their tenants stay placed where they were.
      adopted = await adoptSurvivors(catalog);
      if (!options.shardsOutliveController) {
        // Shards a `marina controller` left running must not serve these tenants beside ours.
        for (const shard of adopted.splice(0)) {
          logger.info(
            { shard_id: shard.shardId, pid: shard.pid },
            `stopping shard ${shard.shardId}, left running by an earlier controller`,
          );
          await shard.stop(10_000);
        }
      }
      const kept = adopted.map((shard) => shard.shardId);
      shardIds = [];
      for (let k = 0; kept.length + shardIds.length < options.shards; k++) {
        if (!kept.includes(`shard-${k}`)) shardIds.push(`shard-${k}`);
      }
      await catalog.registry.prepareShards(kept, shardIds, options.version, Date.now());
      await catalog.registry.setMetaValue(TARGET_VERSION_KEY, options.version);
      const version = await catalog.registry.bumpPlacementVersion();
      controller = new Controller(options, paths, catalog, new PlacementFeed(version));
      // Onto the first shards; those that need more shards are placed once the shards run.
      await controller.placeWaitingTenants({ startShards: false });
    } catch (error) {
      for (const shard of adopted) await shard.stop(10_000).catch(() => {});
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
        logger,
        output: options.shardOutput,
        extraArgs: options.shardArgs,
        logDir: options.shardsOutliveController ? join(catalog.store.dataDir, 'logs') : undefined,
        readyTimeoutMs: options.shardReadyTimeoutMs,
        hooks: {
          ready: (shard) => controller.onShardReady(shard),
          exited: (shardId, exit) => controller.onShardExited(shardId, exit),
        },
      });
      controller.supervisor = supervisor;
      await supervisor.start(shardIds);
      for (const shard of adopted) {
        await supervisor.adopt(shard);
        await controller.resyncAdoptedShard(shard);
      }
      await controller.placeWaitingTenants({ startShards: true });
      controller.scheduleReconcile();
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

  /** The Marina version new shards run. */
  get version(): string {
    return this.targetVersion;
  }

  /** The Marina version this controller was started with. */
  get ownVersion(): string {
    return this.options.version;
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
    const created = await this.catalog.create(tenant);
    const shardId = await this.placeTenant(created.serverName);
    this.options.logger.info(
      { server_name: created.serverName, shard_id: shardId, hostnames: created.hostnames },
      shardId === null
        ? `created tenant ${created.serverName}; it waits for a shard with room`
        : `created tenant ${created.serverName} on ${shardId}`,
    );
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
    if (this.moving.has(serverName)) throw moveInProgress(serverName);
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
    await this.placeWaitingTenants({ startShards: true });
    return deleted;
  }

  /**
   * Moves a tenant to another shard (`to`, or where placement puts it): routers hold its
   * requests, its old shard finishes those in flight and ends its long-polls, its new shard
   * takes it, routers release the requests there. Nothing is copied: same database, same media.
   */
  async moveTenant(
    serverName: string,
    options: { to?: string; reason?: MoveReason } = {},
  ): Promise<MoveResult> {
    const reason = options.reason ?? 'manual';
    if (this.moving.has(serverName)) throw moveInProgress(serverName);
    this.moving.add(serverName);
    try {
      const { from, to } = await this.withPlacementLock(() =>
        this.reserveMoveTarget(serverName, options.to),
      );
      return await this.runMove(serverName, from, to, reason);
    } finally {
      this.moving.delete(serverName);
    }
  }

  /** Moves every tenant off a shard, then retires it (its process stops). */
  async drainShard(shardId: string): Promise<DrainResult> {
    const shard = (await this.catalog.registry.listShards()).find((s) => s.id === shardId);
    if (shard === undefined) throw new MatrixError('M_NOT_FOUND', `No shard ${shardId}`);
    if (shard.state === 'retiring') {
      throw new MatrixError('M_UNKNOWN', `shard ${shardId} is retiring already`, { status: 409 });
    }
    await this.catalog.registry.updateShard(shardId, { state: 'draining', now: Date.now() });
    this.options.logger.info({ shard_id: shardId }, `draining shard ${shardId}`);
    const result: DrainResult = { shard_id: shardId, moved: [], failed: [] };
    const tenants = (await this.catalog.registry.listTenants()).filter(
      (tenant) => tenant.shardId === shardId,
    );
    for (const tenant of tenants) {
      try {
        const moved = await this.moveTenant(tenant.serverName, { reason: 'drain' });
        result.moved.push({ server_name: tenant.serverName, to: moved.to });
      } catch (error) {
        result.failed.push({ server_name: tenant.serverName, error: messageOf(error) });
      }
    }
    if (result.failed.length === 0) {
      await this.retireShard(shardId);
    } else {
      // It keeps serving those that could not leave.
      await this.catalog.registry.updateShard(shardId, { state: 'running', now: Date.now() });
      this.options.logger.warn(
        { shard_id: shardId, failed: result.failed },
        `shard ${shardId} keeps running: ${result.failed.length} tenant(s) could not move off it`,
      );
    }
    return result;
  }

  /**
   * Starts moving every tenant onto shards of `version`, a few at a time (the reconcile loop
   * does it); shards of other versions retire once empty.
   */
  async startUpgrade(version: string): Promise<UpgradeStarted> {
    this.targetVersion = version;
    await this.catalog.registry.setMetaValue(TARGET_VERSION_KEY, version);
    const left = await this.tenantsOffVersion();
    this.options.logger.info(
      { target_version: version, tenants_to_move: left },
      `upgrade to ${version}: ${left} tenant(s) to move`,
    );
    this.kickReconcile();
    return { target_version: version, tenants_to_move: left };
  }

  async upgradeStatus(): Promise<UpgradeStatus> {
    const shards = await this.catalog.registry.listShards();
    const byVersion: Record<string, number> = {};
    for (const shard of shards) byVersion[shard.version] = (byVersion[shard.version] ?? 0) + 1;
    const left = await this.tenantsOffVersion();
    const upgrading = shards.some((shard) => shard.version !== this.targetVersion);
    return {
      target_version: this.targetVersion,
      state: upgrading ? 'upgrading' : 'idle',
      shards_by_version: byVersion,
      tenants_left: left,
    };
  }

  /** Recent moves, newest first. */
  listMoves(): MoveRecord[] {
    return [...this.moves];
  }

  /**
   * The placement table once its version differs from `since` (or at the timeout). A router
   * asking with `since` has applied that version (see RouterAcks).
   */
  async placement(
    since: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
    routerId?: string,
  ): Promise<PlacementSnapshot> {
    const done = routerId === undefined ? undefined : this.routerAcks.asked(routerId, since);
    try {
      if (since !== undefined) await this.feed.waitForChange(since, timeoutMs, signal);
      return await this.catalog.registry.placement();
    } finally {
      done?.();
    }
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

  /** The shard IDs in the registry now. */
  async shardIds(): Promise<string[]> {
    return (await this.catalog.registry.listShards()).map((shard) => shard.id);
  }

  private async stopEverything(): Promise<void> {
    const { logger } = this.options;
    this.stopping.abort();
    clearTimeout(this.reconcileTimer);
    await this.reconciling?.catch(() => {});
    this.feed.close();
    await removeControllerFile(this.paths.controllerJson).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not remove controller.json'),
    );
    await this.api?.close();
    if (this.options.leaveShardsOnStop) {
      await this.supervisor?.detach();
      logger.info(
        'the shards keep running: the next controller on this data directory adopts them',
      );
      await this.catalog.close();
      return;
    }
    await this.supervisor?.stop();
    for (const shard of await this.catalog.registry.listShards().catch(() => [])) {
      await this.catalog.registry
        .updateShard(shard.id, { state: 'stopped', pid: null, adminUrl: null, now: Date.now() })
        .catch(() => {});
    }
    await this.catalog.close();
  }

  private async onShardReady(shard: RunningShard): Promise<void> {
    const { registry } = this.catalog;
    const previous = (await registry.listShards()).find((s) => s.id === shard.shardId);
    await registry.updateShard(shard.shardId, {
      ...(previous?.state === 'draining' ? {} : { state: 'starting' }),
      pid: shard.pid,
      adminUrl: shard.adminUrl,
      adminToken: shard.token,
      now: Date.now(),
    });
    const handed = await this.enqueue(shard.shardId, async () => {
      // Its own tenants that are not leaving, and those on their way to it.
      const tenants = (await registry.listTenants()).filter(
        (t) => (t.shardId === shard.shardId && t.movingTo === null) || t.movingTo === shard.shardId,
      );
      const client = new ShardAdminClient(shard.adminUrl, shard.token);
      let next = 0;
      const worker = async () => {
        while (next < tenants.length) {
          const tenant = tenants[next++] as TenantRecord;
          await this.putTenant(client, shard.shardId, tenant.serverName).catch(() => {});
        }
      };
      await Promise.all(Array.from({ length: PUSH_CONCURRENCY }, worker));
      return tenants.length;
    });
    await registry.updateShard(shard.shardId, {
      ...(previous?.state === 'draining' ? {} : { state: 'running' }),
      trafficUrl: shard.trafficUrl,
      now: Date.now(),
    });
    await this.publishPlacement();
    this.options.logger.info(
      { shard_id: shard.shardId, tenants: handed, traffic_url: shard.trafficUrl },
      `shard ${shard.shardId} serves its ${handed} tenant(s)`,
    );
  }

  /**
   * Makes an adopted shard hold exactly the tenants the registry places on it: those it lacks
   * are handed over (the same config again is a no-op), those it should not have (a move the
   * earlier controller did not finish) are taken back.
   */
  private async resyncAdoptedShard(shard: RunningShard): Promise<void> {
    const { registry } = this.catalog;
    await this.enqueue(shard.shardId, async () => {
      const client = new ShardAdminClient(shard.adminUrl, shard.token);
      const placed = (await registry.listTenants()).filter((t) => t.shardId === shard.shardId);
      const names = new Set(placed.map((tenant) => tenant.serverName));
      for (const held of (await client.status()).tenants) {
        if (!names.has(held.server_name)) await client.deleteTenant(held.server_name);
      }
      for (const tenant of placed) {
        await this.putTenant(client, shard.shardId, tenant.serverName).catch(() => {});
      }
    });
    // A drain the earlier controller did not finish is over.
    await registry.updateShard(shard.shardId, { state: 'running', now: Date.now() });
    await this.publishPlacement();
  }

  private async onShardExited(shardId: string, _exit: ShardExit): Promise<void> {
    this.metrics.shardRestarted(shardId);
    // Its traffic_url stays in the placement until the new process is up: routers answer 503
    // ("cannot be reached right now", Retry-After) meanwhile, rather than "no such homeserver".
    const shard = (await this.catalog.registry.listShards()).find((s) => s.id === shardId);
    await this.catalog.registry.updateShard(shardId, {
      ...(shard?.state === 'draining' ? {} : { state: 'restarting' }),
      pid: null,
      adminUrl: null,
      now: Date.now(),
    });
  }

  /** Places one new tenant (starting a shard when the knobs allow); its shard, or null. */
  private async placeTenant(serverName: string): Promise<string | null> {
    const placed = await this.withPlacementLock(async () => {
      const decision = decidePlacement(
        await this.catalog.registry.shardLoads(),
        this.knobs,
        this.targetVersion,
      );
      if (decision.kind === 'full') return null;
      const shardId =
        decision.kind === 'shard'
          ? decision.shardId
          : await this.addShardRecord(this.targetVersion);
      await this.catalog.registry.assignShard(serverName, shardId);
      return { shardId, newShard: decision.kind === 'new-shard' };
    });
    if (placed === null) {
      if (!this.shardsFull.has(serverName)) this.warnShardsFull(serverName);
      this.shardsFull.add(serverName);
      return null;
    }
    this.shardsFull.delete(serverName);
    if (placed.newShard) await this.launchShard(placed.shardId);
    else await this.handOver(placed.shardId, serverName);
    await this.publishPlacement();
    return placed.shardId;
  }

  /** Places tenants that wait for a shard and hands them over. */
  private async placeWaitingTenants(options: { startShards: boolean }): Promise<void> {
    const waiting = (await this.catalog.registry.listTenants()).filter((t) => t.shardId === null);
    for (const name of this.shardsFull) {
      if (!waiting.some((tenant) => tenant.serverName === name)) this.shardsFull.delete(name);
    }
    for (const tenant of waiting) {
      if (options.startShards) {
        await this.placeTenant(tenant.serverName);
        continue;
      }
      // Before the shards run: onto the first shards only, handed over when each starts.
      const loads = await this.catalog.registry.shardLoads();
      const decision = decidePlacement(loads, this.knobs, this.targetVersion);
      if (decision.kind === 'shard') {
        await this.catalog.registry.assignShard(tenant.serverName, decision.shardId);
      }
    }
    if (waiting.length > 0 && !options.startShards) await this.publishPlacement();
  }

  private warnShardsFull(serverName: string): void {
    this.options.logger.warn(
      {
        server_name: serverName,
        max_tenants_per_shard: this.options.maxTenantsPerShard,
        max_shards_per_version: this.knobs.maxShardsPerVersion,
        version: this.targetVersion,
        shards_full: true,
      },
      `shards full: no shard has room for tenant ${serverName} and no more may start; it waits ` +
        '(raise --max-tenants-per-shard or --max-shards-per-version)',
    );
  }

  /** Picks and reserves the move's target (under the placement lock). */
  private async reserveMoveTarget(
    serverName: string,
    requested: string | undefined,
  ): Promise<{ from: string; to: string }> {
    const { registry } = this.catalog;
    const tenant = await registry.getTenant(serverName);
    if (tenant === undefined) throw unknownTenant(serverName, this.dataDir);
    const from = tenant.shardId;
    if (from === null) {
      throw invalidParam(`tenant ${serverName} is on no shard yet; it cannot move`);
    }
    const loads = await registry.shardLoads();
    let to: string;
    if (requested !== undefined) {
      const target = loads.find((load) => load.shardId === requested);
      if (target === undefined) throw invalidParam(`there is no shard ${requested}`);
      if (requested === from) throw invalidParam(`tenant ${serverName} is on ${from} already`);
      if (!isAccepting(target.state)) {
        throw invalidParam(`shard ${requested} is ${target.state}: it takes no tenants`);
      }
      if (target.tenants >= this.options.maxTenantsPerShard) {
        throw new MatrixError(
          'M_RESOURCE_LIMIT_EXCEEDED',
          `shard ${requested} holds maxTenantsPerShard (${this.options.maxTenantsPerShard}) tenants`,
        );
      }
      to = requested;
    } else {
      const decision = decidePlacement(loads, this.knobs, this.targetVersion, from);
      if (decision.kind === 'full') {
        throw new MatrixError(
          'M_RESOURCE_LIMIT_EXCEEDED',
          `shards full: no other shard has room for ${serverName} and no more may start`,
        );
      }
      to =
        decision.kind === 'shard'
          ? decision.shardId
          : await this.addShardRecord(this.targetVersion);
    }
    await registry.beginMove(serverName, to);
    return { from, to };
  }

  private async runMove(
    serverName: string,
    from: string,
    to: string,
    reason: MoveReason,
  ): Promise<MoveResult> {
    const { logger } = this.options;
    const started = performance.now();
    const record: MoveRecord = {
      server_name: serverName,
      from,
      to,
      reason,
      started_ts: Date.now(),
      duration_ms: null,
      outcome: 'moving',
    };
    this.moves.unshift(record);
    this.moves.splice(MOVE_HISTORY);
    this.metrics.moveStarted(reason);
    let leftOldShard = false;
    try {
      // 1. Routers hold its new requests.
      const version = await this.publishPlacement();
      const held = await this.routerAcks.waitFor(version, ROUTER_ACK_TIMEOUT_MS);
      if (!held) {
        logger.warn(
          { server_name: serverName, placement_version: version },
          'a router did not confirm holding the moving tenant in time; moving anyway',
        );
      }
      // 2. A new target shard must be up before the tenant leaves the old one.
      if (this.supervisor?.running(to) === undefined) await this.launchShard(to);
      if (this.supervisor?.running(to) === undefined) {
        throw new Error(`shard ${to} is not running`);
      }
      // 3. The old shard finishes what is in flight, ends long-polls and lets it go.
      await this.enqueue(from, async () => {
        const shard = this.supervisor?.running(from);
        if (shard !== undefined) {
          await new ShardAdminClient(shard.adminUrl, shard.token).deleteTenant(serverName);
        }
      });
      leftOldShard = true;
      // 4. The new shard takes it (it starts on its first request).
      await this.enqueue(to, async () => {
        const shard = this.supervisor?.running(to);
        if (shard === undefined) throw new Error(`shard ${to} is not running`);
        await new ShardAdminClient(shard.adminUrl, shard.token).putTenant(
          await this.catalog.store.load(serverName),
        );
      });
      // 5. Routers release its requests to the new shard.
      await this.catalog.registry.endMove(serverName, true);
      await this.publishPlacement();
    } catch (error) {
      await this.rollBackMove(serverName, from, leftOldShard, error);
      const seconds = (performance.now() - started) / 1000;
      record.duration_ms = Math.round(seconds * 1000);
      record.outcome = 'failed';
      record.error = messageOf(error);
      this.metrics.moveFinished(reason, 'failed', seconds);
      throw error instanceof MatrixError
        ? error
        : new MatrixError('M_UNKNOWN', `moving ${serverName} failed: ${messageOf(error)}`, {
            status: 500,
          });
    }
    const seconds = (performance.now() - started) / 1000;
    record.duration_ms = Math.round(seconds * 1000);
    record.outcome = 'done';
    this.metrics.moveFinished(reason, 'done', seconds);
    logger.info(
      { server_name: serverName, from, to, reason, move_ms: record.duration_ms },
      `moved tenant ${serverName} from ${from} to ${to} in ${record.duration_ms} ms`,
    );
    return { server_name: serverName, from, to, duration_ms: record.duration_ms };
  }

  /** A failed move leaves the tenant served where it was. */
  private async rollBackMove(
    serverName: string,
    from: string,
    leftOldShard: boolean,
    error: unknown,
  ): Promise<void> {
    this.options.logger.error(
      { server_name: serverName, shard_id: from, err: error },
      `moving tenant ${serverName} failed; it stays on ${from}`,
    );
    try {
      await this.catalog.registry.endMove(serverName, false);
      if (leftOldShard) await this.handOver(from, serverName);
      await this.publishPlacement();
    } catch (rollbackError) {
      this.options.logger.error(
        { server_name: serverName, err: rollbackError },
        'could not put a tenant back after a failed move',
      );
    }
  }

  /** Stops a shard for good once no tenant is on it or coming to it. */
  private async retireShard(shardId: string): Promise<void> {
    const { registry } = this.catalog;
    await registry.updateShard(shardId, { state: 'retiring', now: Date.now() });
    await this.publishPlacement();
    await this.supervisor?.retire(shardId);
    await registry.removeShard(shardId);
    this.queues.delete(shardId);
    await this.publishPlacement();
    this.options.logger.info({ shard_id: shardId }, `shard ${shardId} retired`);
  }

  /** Records a new shard of `version` (the caller holds the placement lock), not started yet. */
  private async addShardRecord(version: string): Promise<string> {
    const ids = new Set(await this.shardIds());
    let k = 0;
    while (ids.has(`shard-${k}`)) k += 1;
    const shardId = `shard-${k}`;
    await this.catalog.registry.addShard(shardId, version, Date.now());
    this.options.logger.info({ shard_id: shardId, version }, `starting a new shard ${shardId}`);
    return shardId;
  }

  /** Starts a recorded shard; it gets its tenants when ready. */
  private async launchShard(shardId: string): Promise<void> {
    if (this.supervisor === undefined || this.supervisor.running(shardId) !== undefined) return;
    await this.supervisor.add(shardId).catch((error: unknown) => {
      // "runs already": another caller launched it; wait for that start instead.
      if (!messageOf(error).includes('runs already')) throw error;
    });
    for (let waited = 0; this.supervisor.running(shardId) === undefined && waited < 120; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private get knobs(): PlacementKnobs {
    return {
      maxTenantsPerShard: this.options.maxTenantsPerShard,
      maxShardsPerVersion: this.options.maxShardsPerVersion ?? DEFAULT_MAX_SHARDS_PER_VERSION,
    };
  }

  private withPlacementLock<T>(task: () => Promise<T>): Promise<T> {
    const run = this.placing.then(task, task);
    this.placing = run.catch(() => {});
    return run;
  }

  private scheduleReconcile(): void {
    if (this.stopping.signal.aborted) return;
    this.reconcileTimer = setTimeout(
      () => this.kickReconcile(),
      this.options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS,
    );
  }

  /** Runs a reconcile pass now unless one runs already. */
  private kickReconcile(): void {
    if (this.reconciling !== undefined || this.stopping.signal.aborted) return;
    clearTimeout(this.reconcileTimer);
    this.reconciling = this.reconcile().finally(() => {
      this.reconciling = undefined;
      this.scheduleReconcile();
    });
  }

  /** One pass: place waiting tenants, carry an upgrade forward, consolidate. */
  private async reconcile(): Promise<void> {
    const started = performance.now();
    try {
      await this.placeWaitingTenants({ startShards: true });
      await this.upgradeStep();
      await this.consolidationStep();
      if (performance.now() - this.lastStatusRound >= STATUS_ROUND_MS) {
        this.lastStatusRound = performance.now();
        this.lastStatuses = await this.shardStatuses();
      }
      this.metrics.reconciled((performance.now() - started) / 1000);
    } catch (error) {
      this.metrics.reconcileFailed();
      this.options.logger.error({ err: error }, 'reconcile pass failed; trying again');
    }
  }

  private async upgradeStep(): Promise<void> {
    const { registry } = this.catalog;
    const shards = await registry.listShards();
    const old = new Set(
      shards.filter((shard) => shard.version !== this.targetVersion).map((shard) => shard.id),
    );
    if (old.size === 0) return;
    const leaving = (await registry.listTenants()).filter(
      (tenant) => tenant.shardId !== null && old.has(tenant.shardId) && tenant.movingTo === null,
    );
    const batch = leaving
      .filter((tenant) => !this.moving.has(tenant.serverName))
      .slice(0, this.options.upgradeBatch ?? DEFAULT_UPGRADE_BATCH);
    await Promise.all(
      batch.map((tenant) =>
        this.moveTenant(tenant.serverName, { reason: 'upgrade' }).catch((error: unknown) =>
          this.options.logger.warn(
            { server_name: tenant.serverName, err: error },
            `upgrade: could not move ${tenant.serverName} yet; trying again`,
          ),
        ),
      ),
    );
    // Old shards left empty retire.
    const loads = await registry.shardLoads();
    for (const load of loads) {
      if (old.has(load.shardId) && load.tenants === 0 && load.state !== 'retiring') {
        await this.retireShard(load.shardId);
      }
    }
    if ((await this.upgradeStatus()).state === 'idle') {
      this.options.logger.info(
        { version: this.targetVersion },
        `upgrade to ${this.targetVersion} done`,
      );
    }
  }

  private async consolidationStep(): Promise<void> {
    const threshold = this.options.redistributionThreshold ?? 0;
    if (threshold <= 0) return;
    const loads = await this.catalog.registry.shardLoads();
    const shardId = shardToConsolidate(loads, {
      threshold,
      minShards: this.options.shards,
      maxTenantsPerShard: this.options.maxTenantsPerShard,
      version: this.targetVersion,
    });
    if (shardId === undefined) return;
    this.options.logger.info(
      { shard_id: shardId, threshold },
      `consolidating: moving the tenants of ${shardId} to other shards`,
    );
    await this.catalog.registry.updateShard(shardId, { state: 'draining', now: Date.now() });
    const tenants = (await this.catalog.registry.listTenants()).filter(
      (tenant) => tenant.shardId === shardId,
    );
    let failed = 0;
    for (const tenant of tenants) {
      await this.moveTenant(tenant.serverName, { reason: 'consolidation' }).catch(
        (error: unknown) => {
          failed += 1;
          this.options.logger.warn(
            { server_name: tenant.serverName, err: error },
            `consolidation: could not move ${tenant.serverName}`,
          );
        },
      );
    }
    if (failed === 0) await this.retireShard(shardId);
    else await this.catalog.registry.updateShard(shardId, { state: 'running', now: Date.now() });
  }

  private async tenantsOffVersion(): Promise<number> {
    const shards = await this.catalog.registry.listShards();
    const old = new Set(
      shards.filter((shard) => shard.version !== this.targetVersion).map((shard) => shard.id),
    );
    return (await this.catalog.registry.listTenants()).filter(
      (tenant) => tenant.shardId !== null && old.has(tenant.shardId),
    ).length;
  }

  private async snapshot(): Promise<ControllerSnapshot> {
    const tenants = await this.catalog.registry.listTenants();
    const loads = await this.catalog.registry.shardLoads();
    const shards = await this.catalog.registry.listShards();
    const loadOf = new Map(loads.map((load) => [load.shardId, load.tenants]));
    const moving = tenants.filter((t) => t.movingTo !== null).length;
    const pending = tenants.filter((t) => t.shardId === null).length;
    const failed = tenants.filter(
      (t) => t.movingTo === null && stateOf(t, this.lastStatuses) === 'failed',
    ).length;
    return {
      tenants: [
        { state: 'placed', count: tenants.length - moving - pending - failed },
        { state: 'pending', count: pending },
        { state: 'moving', count: moving },
        { state: 'failed', count: failed },
      ],
      shards: shards.map((shard) => ({
        shard_id: shard.id,
        version: shard.version,
        state: shard.state,
        tenants: loadOf.get(shard.id) ?? 0,
      })),
      pendingBecauseShardsFull: tenants.filter(
        (t) => t.shardId === null && this.shardsFull.has(t.serverName),
      ).length,
    };
  }

  /** Hands a tenant to its shard if the shard is up (otherwise its start will). */
  private async handOver(shardId: string, serverName: string): Promise<void> {
    await this.enqueue(shardId, async () => {
      const shard = this.supervisor?.running(shardId);
      if (shard === undefined) return;
      await this.putTenant(
        new ShardAdminClient(shard.adminUrl, shard.token),
        shardId,
        serverName,
      ).catch(() => {});
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

  /** Hands a tenant over; logs and rethrows a failure. */
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
      throw error;
    }
  }

  private async publishPlacement(): Promise<number> {
    const version = await this.catalog.registry.bumpPlacementVersion();
    this.feed.publish(version);
    return version;
  }

  private async shardStatuses(): Promise<Map<string, ShardStatus | undefined>> {
    const entries = await Promise.all(
      (await this.shardIds()).map(async (shardId) => {
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

/** The shards an earlier controller left running and that still answer, adopted. */
async function adoptSurvivors(catalog: TenantCatalog): Promise<RunningShard[]> {
  const adopted: RunningShard[] = [];
  for (const record of await catalog.registry.listShards()) {
    const { pid, adminUrl, trafficUrl, adminToken } = record;
    if (record.state === 'stopped' || record.state === 'retiring') continue;
    if (pid === null || adminUrl === null || trafficUrl === null || adminToken === null) continue;
    const shard = await adoptShard({
      shardId: record.id,
      pid,
      adminUrl,
      trafficUrl,
      token: adminToken,
    });
    if (shard !== undefined) adopted.push(shard);
  }
  return adopted;
}

function stateOf(
  tenant: TenantRecord,
  statuses: ReadonlyMap<string, ShardStatus | undefined>,
): TenantState {
  if (tenant.shardId === null) return 'unplaced';
  if (tenant.movingTo !== null) return 'moving';
  const status = statuses.get(tenant.shardId);
  if (status === undefined) return 'shard_unavailable';
  return status.tenants.find((t) => t.server_name === tenant.serverName)?.state ?? 'pending';
}

function moveInProgress(serverName: string): MatrixError {
  return new MatrixError('M_UNKNOWN', `a move of ${serverName} is in progress`, { status: 409 });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
