import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ControllerClient } from '../../controller/controller-client.js';
import { OfflineTenantAdmin } from '../../controller/offline-tenant-admin.js';
import {
  parseNewTenant,
  type TenantAdmin,
  type TenantSettings,
} from '../../controller/tenant-admin.js';
import { createProcessLogger } from '../logger.js';
import { registerTenantMoveCommand } from './moves.js';

const DATA_DIR_HELP = 'where tenants keep their data (and the controller its registry)';

/**
 * `marina tenant create|list|show|delete`. While a controller runs on the data directory (`marina
 * controller` or `marina up`) they go through its admin API, so changes take effect at once;
 * otherwise they edit the registry and the tenant folders, and the next start picks them up.
 */
export function registerTenantCommands(program: Command): void {
  const tenant = program
    .command('tenant')
    .description('create, inspect and delete the tenants (homeservers) of a data directory');

  tenant
    .command('create')
    .description('create a tenant; it serves requests at once when a controller runs')
    .argument('<server_name>', "the homeserver's server_name (the domain of its user IDs)")
    .option(
      '--hostname <host>',
      'a host name that routes to it (repeatable; default: the server_name)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addOption(
      new Option('--registration <mode>', 'who may register accounts')
        .choices(['open', 'token', 'closed'])
        .default('closed'),
    )
    .addOption(
      new Option('--media-store <kind>', 'where its media lives: its folder, or an S3 bucket')
        .choices(['local', 's3'])
        .default('local'),
    )
    .option('--s3-bucket <bucket>', "S3: the tenant's bucket (with --media-store s3)")
    .option('--s3-endpoint <url>', 'S3: the endpoint URL (e.g. https://s3.eu-west-1.amazonaws.com)')
    .option('--s3-region <region>', 'S3: the region (default us-east-1)')
    .option('--s3-prefix <prefix>', 'S3: a prefix for every object key')
    .option('--s3-force-path-style', 'S3: path-style URLs (MinIO and similar endpoints)')
    .option(
      '--s3-access-key-id <id>',
      'S3: access key (default: AWS_ACCESS_KEY_ID and the other standard AWS variables)',
    )
    .option('--s3-secret-access-key <key>', 'S3: secret key, with --s3-access-key-id')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print its settings as JSON')
    .action(
      async (
        serverName: string,
        options: {
          hostname?: string[];
          registration: string;
          dataDir: string;
          json?: boolean;
        } & MediaStoreOptions,
      ) => {
        const request = parseNewTenant({
          server_name: serverName,
          ...(options.hostname !== undefined ? { hostnames: options.hostname } : {}),
          registration: options.registration,
          media_store: mediaStoreFrom(options),
        });
        const settings = await withTenantAdmin(
          options.dataDir,
          (admin) => admin.createTenant(request),
          { create: true },
        );
        if (options.json) return printJson(settings);
        process.stderr.write(
          settings.shard_id !== null
            ? `created tenant ${serverName} on ${settings.shard_id}\n`
            : `created tenant ${serverName}; no controller runs, so it starts with the next one\n`,
        );
        printSettings(settings);
      },
    );

  tenant
    .command('list')
    .description('list the tenants, their shard and state')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print a JSON array')
    .action(async (options: { dataDir: string; json?: boolean }) => {
      const tenants = await withTenantAdmin(options.dataDir, (admin) => admin.listTenants());
      if (options.json) return printJson(tenants);
      const rows = tenants.map((t) => [
        t.server_name,
        t.shard_id ?? '-',
        t.state,
        t.hostnames.join(','),
      ]);
      printTable([['SERVER_NAME', 'SHARD', 'STATE', 'HOSTNAMES'], ...rows]);
    });

  tenant
    .command('show')
    .description("print a tenant's settings, registration_shared_secret and shard included")
    .argument('<server_name>', 'the tenant to show')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print JSON instead of text')
    .action(async (serverName: string, options: { dataDir: string; json?: boolean }) => {
      const settings = await withTenantAdmin(options.dataDir, (admin) =>
        admin.showTenant(serverName),
      );
      if (options.json) return printJson(settings);
      printSettings(settings);
    });

  tenant
    .command('delete')
    .description(
      'delete a tenant: it stops serving at once; its data is kept in DIR/deleted-tenants/ unless --purge',
    )
    .argument('<server_name>', 'the tenant to delete')
    .option('--purge', 'delete its data too (database, media, signing key)')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print the result as JSON')
    .action(
      async (serverName: string, options: { purge?: boolean; dataDir: string; json?: boolean }) => {
        const deleted = await withTenantAdmin(options.dataDir, (admin) =>
          admin.deleteTenant(serverName, { purge: options.purge === true }),
        );
        if (options.json) return printJson(deleted);
        process.stdout.write(
          deleted.kept_at !== undefined
            ? `deleted tenant ${serverName}; its data is kept in ${deleted.kept_at}\n`
            : `deleted tenant ${serverName} and its data\n`,
        );
      },
    );

  registerTenantMoveCommand(tenant);
}

interface MediaStoreOptions {
  mediaStore: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3Prefix?: string;
  s3ForcePathStyle?: boolean;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
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
