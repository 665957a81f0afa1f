import { copyFile, rm, stat } from 'node:fs/promises';
import BetterSqlite3 from 'better-sqlite3';
import { ControllerClient } from '../controller-client.js';
import { controllerPaths } from '../controller-files.js';
import { Registry } from './registry.js';

/**
 * `marina controller backup FILE` / `restore FILE`: the controller's state is its registry
 * (tenants, their hosts and placement, shards, versions), one SQLite file. A backup is a
 * consistent copy taken with SQLite's online backup, safe while a controller writes; a restore
 * puts such a copy back while no controller runs. Tenant data (databases, media, keys) is not in
 * it: that lives in the tenant folders and their databases, backed up on their own.
 */

/** Tables a registry file has; a file without them is refused. */
const REGISTRY_TABLES = ['registry_meta', 'tenants', 'tenant_hosts', 'shards'];

export interface RegistrySummary {
  readonly tenants: number;
  readonly shards: number;
  readonly placementVersion: number;
}

/** Copies the registry of `dataDir` to `file` (which must not exist). */
export async function backupRegistry(dataDir: string, file: string): Promise<RegistrySummary> {
  const { registry } = controllerPaths(dataDir);
  if (!(await exists(registry))) {
    throw new Error(`there is no registry at ${registry}: is ${dataDir} a Marina data directory?`);
  }
  if (await exists(file)) throw new Error(`${file} exists already; choose a new file`);
  const source = new BetterSqlite3(registry, { readonly: true, fileMustExist: true });
  try {
    await source.backup(file);
  } finally {
    source.close();
  }
  return summarize(file);
}

/**
 * Replaces the registry of `dataDir` with the backup `file`. Refused while a controller runs on
 * `dataDir`. The next start adopts tenant folders the backup does not know and forgets entries
 * whose folder is gone (docs/controller.md, Registry).
 */
export async function restoreRegistry(dataDir: string, file: string): Promise<RegistrySummary> {
  const running = await ControllerClient.find(dataDir);
  if (running !== undefined) {
    throw new Error(
      `a controller runs on ${dataDir} (pid ${running.pid}); stop it before restoring its registry`,
    );
  }
  if (!(await exists(file))) throw new Error(`there is no backup file ${file}`);
  const summary = await summarize(file);
  const { registry } = controllerPaths(dataDir);
  // Routers compare placement versions: the restored one must not go back in time.
  const current = await withRegistry(registry, (opened) => opened.placementVersion());
  for (const suffix of ['-wal', '-shm']) await rm(`${registry}${suffix}`, { force: true });
  await copyFile(file, registry);
  // Newer migrations run on the restored copy as it opens.
  await withRegistry(registry, async (opened) => {
    if ((await opened.placementVersion()) <= current) {
      await opened.setMetaValue('placement_version', String(current + 1));
    }
  });
  return summary;
}

async function withRegistry<T>(path: string, use: (registry: Registry) => Promise<T>): Promise<T> {
  const registry = await Registry.open(path);
  try {
    return await use(registry);
  } finally {
    await registry.close();
  }
}

async function summarize(file: string): Promise<RegistrySummary> {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new Error(`${file} is not a registry backup: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const tables = new Set(
      (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
          name: string;
        }[]
      ).map((row) => row.name),
    );
    const missing = REGISTRY_TABLES.filter((table) => !tables.has(table));
    if (missing.length > 0) {
      throw new Error(`${file} is not a registry backup: no table ${missing.join(', ')}`);
    }
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const version = db
      .prepare("SELECT value FROM registry_meta WHERE key = 'placement_version'")
      .get() as { value: string } | undefined;
    return {
      tenants: count('tenants'),
      shards: count('shards'),
      placementVersion: Number(version?.value ?? 0),
    };
  } catch (error) {
    if (error instanceof Error && error.message.includes('not a registry backup')) throw error;
    throw new Error(`${file} is not a registry backup: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    db.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
