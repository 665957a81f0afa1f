import { Option, type Command } from 'commander';
import { registerTenantMoveCommand } from './moves.js';

const DATA_DIR_HELP = 'where tenants keep their data (and the controller its registry)';

/**
 * `marina tenant create|list|show|delete`. While a controller runs on the data directory (`marina
 * controller` or `marina up`) they go through its admin API, so changes take effect at once;
 * otherwise they edit the registry and the tenant folders, and the next start picks them up.
 * The actions live in tenant-actions.ts, loaded when one runs (see main.ts).
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
    .action(async (serverName: string, options: NewTenantOptions) => {
      const { createTenant } = await import('./tenant-actions.js');
      await createTenant(serverName, options);
    });

  tenant
    .command('list')
    .description('list the tenants, their shard and state')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print a JSON array')
    .action(async (options: { dataDir: string; json?: boolean }) => {
      const { listTenants } = await import('./tenant-actions.js');
      await listTenants(options);
    });

  tenant
    .command('show')
    .description("print a tenant's settings, registration_shared_secret and shard included")
    .argument('<server_name>', 'the tenant to show')
    .option('--data-dir <dir>', DATA_DIR_HELP, './marina-data')
    .option('--json', 'print JSON instead of text')
    .action(async (serverName: string, options: { dataDir: string; json?: boolean }) => {
      const { showTenant } = await import('./tenant-actions.js');
      await showTenant(serverName, options);
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
        const { deleteTenant } = await import('./tenant-actions.js');
        await deleteTenant(serverName, options);
      },
    );

  registerTenantMoveCommand(tenant);
}

export interface NewTenantOptions extends MediaStoreOptions {
  hostname?: string[];
  registration: string;
  dataDir: string;
  json?: boolean;
}

export interface MediaStoreOptions {
  mediaStore: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3Prefix?: string;
  s3ForcePathStyle?: boolean;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
}
