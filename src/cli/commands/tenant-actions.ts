/**
 * What `marina tenant create|list|show|delete` do (their options: tenant.ts). A module of its own
 * so that the `marina` command loads the controller code only when one of them runs.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ControllerClient } from '../../controller/controller-client.js';
import { OfflineTenantAdmin } from '../../controller/offline-tenant-admin.js';
import {
  parseNewTenant,
  type TenantAdmin,
  type TenantSettings,
} from '../../controller/tenant-admin.js';
import { createProcessLogger } from '../logger.js';
import type { MediaStoreOptions, NewTenantOptions } from './tenant.js';

export async function createTenant(serverName: string, options: NewTenantOptions): Promise<void> {
  const request = parseNewTenant({
    server_name: serverName,
    ...(options.hostname !== undefined ? { hostnames: options.hostname } : {}),
    registration: options.registration,
    media_store: mediaStoreFrom(options),
  });
  const settings = await withTenantAdmin(options.dataDir, (admin) => admin.createTenant(request), {
    create: true,
  });
  if (options.json) return printJson(settings);
  process.stderr.write(
    settings.shard_id !== null
      ? `created tenant ${serverName} on ${settings.shard_id}\n`
      : `created tenant ${serverName}; no controller runs, so it starts with the next one\n`,
  );
  printSettings(settings);
}

export async function listTenants(options: { dataDir: string; json?: boolean }): Promise<void> {
  const tenants = await withTenantAdmin(options.dataDir, (admin) => admin.listTenants());
  if (options.json) return printJson(tenants);
  const rows = tenants.map((t) => [
    t.server_name,
    t.shard_id ?? '-',
    t.state,
    t.hostnames.join(','),
  ]);
  printTable([['SERVER_NAME', 'SHARD', 'STATE', 'HOSTNAMES'], ...rows]);
}

export async function showTenant(
  serverName: string,
  options: { dataDir: string; json?: boolean },
): Promise<void> {
  const settings = await withTenantAdmin(options.dataDir, (admin) => admin.showTenant(serverName));
  if (options.json) return printJson(settings);
  printSettings(settings);
}

export async function deleteTenant(
  serverName: string,
  options: { purge?: boolean; dataDir: string; json?: boolean },
): Promise<void> {
  const deleted = await withTenantAdmin(options.dataDir, (admin) =>
    admin.deleteTenant(serverName, { purge: options.purge === true }),
  );
  if (options.json) return printJson(deleted);
  process.stdout.write(
    deleted.kept_at !== undefined
      ? `deleted tenant ${serverName}; its data is kept in ${deleted.kept_at}\n`
      : `deleted tenant ${serverName} and its data\n`,
  );
}

/** The `media_store` of `POST /tenants` from the create flags; S3 flags need `--media-store s3`. */
function mediaStoreFrom(options: MediaStoreOptions): Record<string, unknown> {
  const s3 = {
    bucket: options.s3Bucket,
    endpoint: options.s3Endpoint,
    region: options.s3Region,
    prefix: options.s3Prefix,
    force_path_style: options.s3ForcePathStyle,
    access_key_id: options.s3AccessKeyId,
    secret_access_key: options.s3SecretAccessKey,
  };
  const given = Object.entries(s3).filter(([, value]) => value !== undefined);
  if (options.mediaStore !== 's3') {
    if (given.length > 0) throw new Error('the --s3-… options need --media-store s3');
    return { kind: 'local' };
  }
  if (options.s3Bucket === undefined || options.s3Endpoint === undefined) {
    throw new Error('--media-store s3 needs --s3-bucket and --s3-endpoint');
  }
  if ((options.s3AccessKeyId === undefined) !== (options.s3SecretAccessKey === undefined)) {
    throw new Error('--s3-access-key-id and --s3-secret-access-key go together');
  }
  return { kind: 's3', ...Object.fromEntries(given) };
}

/**
 * The running controller if there is one, else the data directory itself. Only `create` makes a
 * data directory: the others report a missing one (a mistyped --data-dir) rather than create it.
 */
async function withTenantAdmin<T>(
  dataDir: string,
  use: (admin: TenantAdmin) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const running = await ControllerClient.find(dataDir);
  if (running !== undefined) return use(running);
  if (
    options.create !== true &&
    !(await stat(dataDir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new Error(`there is no data directory ${resolve(dataDir)} (see --data-dir)`);
  }
  const logger = createProcessLogger('marina', { stream: 'stderr', defaultLevel: 'warn' });
  const offline = await OfflineTenantAdmin.open(dataDir, logger);
  try {
    return await use(offline);
  } finally {
    await offline.close();
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function printSettings(settings: TenantSettings): void {
  for (const [key, value] of Object.entries(settings)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    process.stdout.write(`${key}: ${text}\n`);
  }
}

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === row.length - 1 ? cell : cell.padEnd(widths?.[column] ?? 0),
    );
    process.stdout.write(`${cells.join('  ')}\n`);
  }
}
