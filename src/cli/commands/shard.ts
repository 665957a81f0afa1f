import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_IDLE_HIBERNATE_MS, DEFAULT_TENANT_LIMITS } from '../../shard/shard-defaults.js';
import { registerShardAdminCommands } from './shard-admin.js';

/** The environment variable holding the bearer token of the shard's admin API. */
export const SHARD_TOKEN_ENV = 'MARINA_SHARD_TOKEN';

export interface ShardCommandOptions {
  dataDir: string;
  /** Required to run a shard; optional only so that the subcommands do not need it. */
  shardId?: string;
  listen: string;
  adminListen: string;
  idleHibernateMs: number;
  maxInFlight: number;
  maxQueued: number;
  publicBaseUrl: string;
  stopWhenStdinCloses?: boolean;
  federationRouter?: string;
}

/**
 * `marina shard`: one shard process, as the controller runs it (docs/shard.md). Tenant traffic
 * on `--listen`, the admin API on `--admin-listen`; logs go to standard error, and standard
 * output carries one JSON line, `{"event":"shard-ready",…}`, once both listen.
 * `marina shard list|drain` (shard-admin.ts) ask the running controller about its shards instead.
 * Running the shard is in shard-actions.ts, loaded when it runs (see main.ts).
 */
export function registerShardCommand(program: Command): void {
  const shardCommand = program
    .command('shard')
    .description(
      'run one shard: host the tenants the controller assigns, by Host (or list/drain shards)',
    )
    // `marina shard --data-dir DIR list`: the options before a subcommand are the shard's own.
    .enablePositionalOptions()
    // Not `requiredOption`: commander would then require it of `shard list` and `shard drain` too.
    .option('--shard-id <id>', 'the name of this shard, as the controller knows it (required)')
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option('--listen <host:port>', 'address for tenant traffic', '127.0.0.1:0')
    .option('--admin-listen <host:port>', 'address for the admin API (loopback)', '127.0.0.1:0')
    .option(
      '--idle-hibernate-ms <ms>',
      'hibernate a tenant idle this long',
      positiveInteger,
      DEFAULT_IDLE_HIBERNATE_MS,
    )
    .option(
      '--max-in-flight <n>',
      'requests one tenant runs at once',
      positiveInteger,
      DEFAULT_TENANT_LIMITS.maxInFlight,
    )
    .option(
      '--max-queued <n>',
      'requests of one tenant waiting for a slot before 429',
      positiveInteger,
      DEFAULT_TENANT_LIMITS.maxQueued,
    )
    .option(
      '--public-base-url <template>',
      'base URL of tenants without public_baseurl; {server_name} is replaced',
      'https://{server_name}',
    )
    .option(
      '--federation-router <url>',
      "the router's traffic URL: tenants reach the deployment's other tenants through it",
    )
    .option(
      '--stop-when-stdin-closes',
      'stop cleanly and exit when standard input closes or the parent process changes (the controller died)',
    )
    .action(async (options: ShardCommandOptions, command: Command) => {
      const shardId = options.shardId;
      if (shardId === undefined) {
        return command.error("error: required option '--shard-id <id>' not specified");
      }
      const token = process.env[SHARD_TOKEN_ENV];
      if (!token) throw new Error(`${SHARD_TOKEN_ENV} must hold the admin API's bearer token`);
      // Not passed on to anything this process might start.
      delete process.env[SHARD_TOKEN_ENV];
      const { runShard } = await import('./shard-actions.js');
      await runShard(shardId, token, options);
    });
  registerShardAdminCommands(shardCommand);
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError('not a positive integer');
  return value;
}
