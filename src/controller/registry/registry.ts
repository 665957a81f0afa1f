import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, type Transaction } from 'kysely';
import { ImmediateSqliteDialect } from '../../storage/sqlite-dialect.js';
import { registryMigrationProvider } from './migrations.js';
import type { RegistryDatabase } from './registry-schema.js';

/**
 * The controller's registry: tenants, the hosts that route to them, their placement on shards,
 * the shards, and the placement version. One SQLite file in the data directory, read and written
 * by the running controller, or by the `marina tenant` commands when no controller runs.
 */

const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const PLACEMENT_VERSION_KEY = 'placement_version';

/**
 * `draining`: its tenants are being moved off and it takes no new ones; `retiring`: empty and
 * stopping for good (the row goes once its process is gone).
 */
export type ShardState =
  'starting' | 'running' | 'restarting' | 'draining' | 'retiring' | 'stopped';

export interface TenantRecord {
  readonly serverName: string;
  readonly hostnames: readonly string[];
  /** Null while no shard has room for it (or before the controller's first start). */
  readonly shardId: string | null;
  readonly createdTs: number;
  /** The shard a move in progress takes it to. */
  readonly movingTo: string | null;
}

export interface ShardRecord {
  readonly id: string;
  readonly adminUrl: string | null;
  readonly trafficUrl: string | null;
  readonly pid: number | null;
  readonly state: ShardState;
  readonly updatedTs: number;
  readonly version: string;
  readonly adminToken: string | null;
}

/** How many tenants a shard holds. */
export interface ShardLoad {
  readonly shardId: string;
  /** Tenants on it, plus those a move in progress brings to it. */
  readonly tenants: number;
  readonly version: string;
  readonly state: ShardState;
}

/** Picks a shard for one more tenant, or undefined when none has room. */
export type ChooseShard = (loads: readonly ShardLoad[]) => string | undefined;

export interface PlacedTenant {
  readonly serverName: string;
  readonly hostnames: readonly string[];
  readonly shardId: string;
  readonly trafficUrl: string;
  /** A move is in progress: routers hold its requests until it is over. */
  readonly moving: boolean;
}

/** What the router follows: tenants whose shard is up, with the version of this table. */
export interface PlacementSnapshot {
  readonly version: number;
  readonly tenants: readonly PlacedTenant[];
}

/** The server_name, or a host of the new tenant, already belongs to a tenant. */
export class RegistryConflictError extends Error {
  constructor(
    message: string,
    readonly owner: string,
  ) {
    super(message);
    this.name = 'RegistryConflictError';
  }
}

/** Every shard holds as many tenants as it may. */
export class NoShardRoomError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoShardRoomError';
  }
}

/** The hosts that route to a tenant: its server_name and host names, lower-cased, once each. */
export function routingHosts(serverName: string, hostnames: readonly string[]): string[] {
  return [...new Set([serverName, ...hostnames].map((host) => host.toLowerCase()))];
}

/** Shard IDs in the order people expect (`shard-2` before `shard-10`). */
export function compareShardIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

type Db = Kysely<RegistryDatabase> | Transaction<RegistryDatabase>;

export class Registry {
  private constructor(private readonly db: Kysely<RegistryDatabase>) {}

  /** Opens (creating and migrating if needed) the registry file at `path`. */
  static async open(path: string): Promise<Registry> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const file = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    let db: Kysely<RegistryDatabase> | undefined;
    try {
      file.pragma('journal_mode = WAL');
      file.pragma('foreign_keys = ON');
      db = new Kysely<RegistryDatabase>({
        dialect: new ImmediateSqliteDialect({ database: file }),
      });
      const { error, results } = await new Migrator({
        db,
        provider: registryMigrationProvider(),
      }).migrateToLatest();
      if (error !== undefined) {
        const failed = results?.find((result) => result.status === 'Error')?.migrationName;
        throw new Error(
          `cannot migrate the registry ${path}${failed ? ` (migration ${failed})` : ''}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      return new Registry(db);
    } catch (error) {
      if (db !== undefined) await db.destroy();
      if (file.open) file.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async listTenants(): Promise<TenantRecord[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('server_name').execute();
    return rows.map(tenantFromRow);
  }

  async getTenant(serverName: string): Promise<TenantRecord | undefined> {
    const row = await this.db
      .selectFrom('tenants')
      .selectAll()
      .where('server_name', '=', serverName)
      .executeTakeFirst();
    return row === undefined ? undefined : tenantFromRow(row);
  }

  /**
   * Adds a tenant, placed on the shard `choose` picks (in the same transaction, so two creations
   * never both take a shard's last place), or unplaced without `choose`. Throws
   * RegistryConflictError when the name or a host is taken, NoShardRoomError when `choose` finds
   * no shard with room; either way nothing is written.
   */
  async addTenant(
    tenant: { serverName: string; hostnames: readonly string[]; createdTs: number },
    choose?: ChooseShard,
  ): Promise<TenantRecord> {
    return this.db.transaction().execute(async (trx) => {
      const hosts = routingHosts(tenant.serverName, tenant.hostnames);
      const existing = await trx
        .selectFrom('tenants')
        .select('server_name')
        .where('server_name', '=', tenant.serverName)
        .executeTakeFirst();
      if (existing !== undefined) {
        throw new RegistryConflictError(
          `tenant ${tenant.serverName} already exists`,
          tenant.serverName,
        );
      }
      const taken = await trx
        .selectFrom('tenant_hosts')
        .selectAll()
        .where('host', 'in', hosts)
        .orderBy('host')
        .executeTakeFirst();
      if (taken !== undefined) {
        throw new RegistryConflictError(
          `the host ${taken.host} already routes to the tenant ${taken.server_name}`,
          taken.server_name,
        );
      }
      let shardId: string | null = null;
      if (choose !== undefined) {
        const chosen = choose(await shardLoads(trx));
        if (chosen === undefined) {
          throw new NoShardRoomError(`no shard has room for the tenant ${tenant.serverName}`);
        }
        shardId = chosen;
      }
      await trx
        .insertInto('tenants')
        .values({
          server_name: tenant.serverName,
          hostnames: JSON.stringify(tenant.hostnames),
          shard_id: shardId,
          created_ts: tenant.createdTs,
        })
        .execute();
      await trx
        .insertInto('tenant_hosts')
        .values(hosts.map((host) => ({ host, server_name: tenant.serverName })))
        .execute();
      return { ...tenant, hostnames: [...tenant.hostnames], shardId, movingTo: null };
    });
  }

  /** Forgets a tenant and its hosts; returns what it was, or undefined if there was none. */
  async removeTenant(serverName: string): Promise<TenantRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('tenants')
        .selectAll()
        .where('server_name', '=', serverName)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      await trx.deleteFrom('tenant_hosts').where('server_name', '=', serverName).execute();
      await trx.deleteFrom('tenants').where('server_name', '=', serverName).execute();
      return tenantFromRow(row);
    });
  }

  /**
   * Places, one by one and in name order, every tenant without a shard or on a shard that is not
   * in the shards table. Those `choose` finds no room for stay unplaced.
   */
  async placeUnplaced(
    choose: ChooseShard,
  ): Promise<{ placed: TenantRecord[]; unplaced: TenantRecord[] }> {
    return this.db.transaction().execute(async (trx) => {
      const known = (await trx.selectFrom('shards').select('id').execute()).map((row) => row.id);
      const query = trx.selectFrom('tenants').selectAll().orderBy('server_name');
      const rows =
        known.length === 0
          ? await query.execute()
          : await query
              .where((eb) => eb('shard_id', 'is', null).or('shard_id', 'not in', known))
              .execute();
      const waiting = rows.map(tenantFromRow);
      const placed: TenantRecord[] = [];
      const unplaced: TenantRecord[] = [];
      for (const tenant of waiting) {
        const shardId = known.length === 0 ? undefined : choose(await shardLoads(trx));
        await trx
          .updateTable('tenants')
          .set({ shard_id: shardId ?? null })
          .where('server_name', '=', tenant.serverName)
          .execute();
        if (shardId === undefined) unplaced.push({ ...tenant, shardId: null, movingTo: null });
        else placed.push({ ...tenant, shardId });
      }
      return { placed, unplaced };
    });
  }

  async shardLoads(): Promise<ShardLoad[]> {
    return shardLoads(this.db);
  }

  async listShards(): Promise<ShardRecord[]> {
    const rows = await this.db.selectFrom('shards').selectAll().execute();
    return rows
      .map((row) => ({
        id: row.id,
        adminUrl: row.admin_url,
        trafficUrl: row.traffic_url,
        pid: row.pid,
        state: row.state as ShardState,
        updatedTs: row.updated_ts,
        version: row.version,
        adminToken: row.admin_token,
      }))
      .sort((a, b) => compareShardIds(a.id, b.id));
  }

  /**
   * Makes the shards table hold exactly `ids`, each `starting` with no address (a controller
   * starting its shards). Tenants of shards that are gone become unplaced.
   */
  async resetShards(ids: readonly string[], version: string, now: number): Promise<void> {
    await this.prepareShards([], ids, version, now);
  }

  /**
   * Makes the shards table hold the `kept` shards as they are (adopted by a new controller)
   * and the `fresh` ones `starting` with no address; tenants of other shards become unplaced,
   * and moves in progress end (each tenant stays where it was).
   */
  async prepareShards(
    kept: readonly string[],
    fresh: readonly string[],
    version: string,
    now: number,
  ): Promise<void> {
    const added = fresh.filter((id) => !kept.includes(id));
    const ids = [...kept, ...added];
    await this.db.transaction().execute(async (trx) => {
      const query = trx.deleteFrom('shards');
      await (kept.length > 0 ? query.where('id', 'not in', kept) : query).execute();
      if (added.length > 0) {
        await trx
          .insertInto('shards')
          .values(
            added.map((id) => ({
              id,
              admin_url: null,
              traffic_url: null,
              pid: null,
              state: 'starting',
              updated_ts: now,
              version,
            })),
          )
          .execute();
      }
      if (ids.length > 0) {
        await trx
          .updateTable('tenants')
          .set({ shard_id: null })
          .where('shard_id', 'not in', ids)
          .execute();
      } else {
        await trx.updateTable('tenants').set({ shard_id: null }).execute();
      }
      // Moves end with the shards that ran them: each tenant stays where it was.
      await trx.updateTable('tenants').set({ moving_to: null }).execute();
    });
  }

  /** Records a new shard (starting, no address yet). */
  async addShard(id: string, version: string, now: number): Promise<void> {
    await this.db
      .insertInto('shards')
      .values({
        id,
        admin_url: null,
        traffic_url: null,
        pid: null,
        state: 'starting',
        updated_ts: now,
        version,
      })
      .execute();
  }

  /** Forgets a retired shard; refuses while a tenant is on it or moving to it. */
  async removeShard(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const holding = await trx
        .selectFrom('tenants')
        .select('server_name')
        .where((eb) => eb('shard_id', '=', id).or('moving_to', '=', id))
        .executeTakeFirst();
      if (holding !== undefined) {
        throw new Error(`shard ${id} still holds the tenant ${holding.server_name}`);
      }
      await trx.deleteFrom('shards').where('id', '=', id).execute();
    });
  }

  /** Puts an unplaced tenant on a shard. */
  async assignShard(serverName: string, shardId: string): Promise<void> {
    await this.db
      .updateTable('tenants')
      .set({ shard_id: shardId })
      .where('server_name', '=', serverName)
      .execute();
  }

  /** A move begins: the tenant stays on its shard, routers are to hold its requests. */
  async beginMove(serverName: string, target: string): Promise<void> {
    await this.db
      .updateTable('tenants')
      .set({ moving_to: target })
      .where('server_name', '=', serverName)
      .execute();
  }

  /** A move ends: on its target when `arrived`, back where it was otherwise. */
  async endMove(serverName: string, arrived: boolean): Promise<void> {
    await this.db
      .updateTable('tenants')
      .set((eb) =>
        arrived ? { shard_id: eb.ref('moving_to'), moving_to: null } : { moving_to: null },
      )
      .where('server_name', '=', serverName)
      .where('moving_to', 'is not', null)
      .execute();
  }

  async metaValue(key: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('registry_meta')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async setMetaValue(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('registry_meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async updateShard(
    id: string,
    patch: {
      adminUrl?: string | null;
      trafficUrl?: string | null;
      pid?: number | null;
      adminToken?: string | null;
      state?: ShardState;
      now: number;
    },
  ): Promise<void> {
    await this.db
      .updateTable('shards')
      .set({
        ...(patch.adminUrl !== undefined ? { admin_url: patch.adminUrl } : {}),
        ...(patch.trafficUrl !== undefined ? { traffic_url: patch.trafficUrl } : {}),
        ...(patch.pid !== undefined ? { pid: patch.pid } : {}),
        ...(patch.adminToken !== undefined ? { admin_token: patch.adminToken } : {}),
        ...(patch.state !== undefined ? { state: patch.state } : {}),
        updated_ts: patch.now,
      })
      .where('id', '=', id)
      .execute();
  }

  async placementVersion(): Promise<number> {
    return placementVersion(this.db);
  }

  /** Marks a change of the placement table; returns the new version. */
  async bumpPlacementVersion(): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const next = (await placementVersion(trx)) + 1;
      await trx
        .insertInto('registry_meta')
        .values({ key: PLACEMENT_VERSION_KEY, value: String(next) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(next) }))
        .execute();
      return next;
    });
  }

  /** The placement table as the router needs it, read in one transaction. */
  async placement(): Promise<PlacementSnapshot> {
    return this.db.transaction().execute(async (trx) => {
      const version = await placementVersion(trx);
      const rows = await trx
        .selectFrom('tenants')
        .innerJoin('shards', 'shards.id', 'tenants.shard_id')
        .select([
          'tenants.server_name',
          'tenants.hostnames',
          'tenants.moving_to',
          'shards.id',
          'shards.traffic_url',
        ])
        .where('shards.traffic_url', 'is not', null)
        .orderBy('tenants.server_name')
        .execute();
      return {
        version,
        tenants: rows.map((row) => ({
          serverName: row.server_name,
          hostnames: parseHostnames(row.hostnames),
          shardId: row.id,
          trafficUrl: row.traffic_url as string,
          moving: row.moving_to !== null,
        })),
      };
    });
  }
}

async function shardLoads(db: Db): Promise<ShardLoad[]> {
  const rows = await db
    .selectFrom('shards')
    .leftJoin('tenants', (join) =>
      join.on((eb) =>
        eb('tenants.shard_id', '=', eb.ref('shards.id')).or(
          'tenants.moving_to',
          '=',
          eb.ref('shards.id'),
        ),
      ),
    )
    .select((eb) => [
      'shards.id',
      'shards.version',
      'shards.state',
      eb.fn.count<number>('tenants.server_name').as('tenants'),
    ])
    .groupBy(['shards.id', 'shards.version', 'shards.state'])
    .execute();
  return rows
    .map((row) => ({
      shardId: row.id,
      tenants: Number(row.tenants),
      version: row.version,
      state: row.state as ShardState,
    }))
    .sort((a, b) => compareShardIds(a.shardId, b.shardId));
}

async function placementVersion(db: Db): Promise<number> {
  const row = await db
    .selectFrom('registry_meta')
    .select('value')
    .where('key', '=', PLACEMENT_VERSION_KEY)
    .executeTakeFirst();
  return row === undefined ? 0 : Number(row.value);
}

function tenantFromRow(row: RegistryDatabase['tenants']): TenantRecord {
  return {
    serverName: row.server_name,
    hostnames: parseHostnames(row.hostnames),
    shardId: row.shard_id,
    createdTs: row.created_ts,
    movingTo: row.moving_to,
  };
}

function parseHostnames(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((h): h is string => typeof h === 'string') : [];
}
