import type { Command } from 'commander';
import type { DrainResult, ShardSummary } from '../../controller/tenant-admin.js';
import { formatTable, printJson, tenantCount } from './cli-output.js';
import { DATA_DIR_HELP, plainName, requireRunningController } from './running-controller.js';

/**
 * `marina shard list` and `marina shard drain <shard_id>`: subcommands of `marina shard`, which
 * without one still runs a shard (the controller starts its shards that way). Both ask the
 * running controller.
 */
export function registerShardAdminCommands(shard: Command): void {
  shard
    .command('list')
    .description("list the running controller's shards: version, state, process, tenants")
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print a JSON array')
    .action(async (options: { dataDir?: string; json?: boolean }, command: Command) => {
      const controller = await requireRunningController(dataDirOf(options, command));
      const shards = await controller.shards();
      if (options.json) return printJson(shards);
      process.stdout.write(formatShards(shards));
    });

  shard
    .command('drain')
    .description('move every tenant off a shard, then retire it (its process stops)')
    .argument('<shard_id>', 'the shard to drain (see `marina shard list`)', plainName)
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print the result as JSON')
    .action(
      async (shardId: string, options: { dataDir?: string; json?: boolean }, command: Command) => {
        const controller = await requireRunningController(dataDirOf(options, command));
        const result = await controller.drainShard(shardId);
        if (options.json) printJson(result);
        else {
          const report = formatDrain(result);
          process.stdout.write(report.stdout);
          process.stderr.write(report.stderr);
        }
        // Tenants left behind: the shard is not drained, which scripts must see.
        if (result.failed.length > 0) process.exitCode = 1;
      },
    );
}

/**
 * The subcommand's `--data-dir`, else the one given to `marina shard` before the subcommand
 * (`marina shard --data-dir DIR list`), else the default of `marina shard`.
 */
function dataDirOf(options: { dataDir?: string }, command: Command): string {
  return options.dataDir ?? (command.parent?.opts() as { dataDir: string }).dataDir;
}

export function formatShards(shards: readonly ShardSummary[]): string {
  const rows = shards.map((shard) => [
    shard.shard_id,
    // `|| '-'`: a controller from before versions were recorded sends none.
    shard.version || '-',
    shard.state,
    shard.pid === null ? '-' : String(shard.pid),
    String(shard.tenants),
    shard.traffic_url ?? '-',
  ]);
  return formatTable([['SHARD', 'VERSION', 'STATE', 'PID', 'TENANTS', 'TRAFFIC_URL'], ...rows]);
}

export function formatDrain(result: DrainResult): { stdout: string; stderr: string } {
  const moved = result.moved.map((m) => `moved ${m.server_name} to ${m.to}\n`).join('');
  if (result.failed.length === 0) {
    return {
      stdout: `${moved}drained ${result.shard_id}: ${tenantCount(result.moved.length)} moved; the shard retires\n`,
      stderr: '',
    };
  }
  const failed = result.failed.map((f) => `could not move ${f.server_name}: ${f.error}\n`).join('');
  return {
    stdout: moved,
    stderr:
      `${failed}${result.shard_id} is not drained: ${tenantCount(result.failed.length)} ` +
      `could not be moved (${result.moved.length} moved)\n`,
  };
}
