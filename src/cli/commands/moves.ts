import type { Command } from 'commander';
import type { MoveRecord, MoveResult } from '../../controller/tenant-admin.js';
import { formatTable, printJson } from './cli-output.js';
import {
  DATA_DIR_HELP,
  DEFAULT_DATA_DIR,
  plainName,
  requireRunningController,
} from './running-controller.js';

/**
 * `marina tenant move <server_name> [--to SHARD]` (a subcommand of `marina tenant`) and `marina
 * moves`: move a tenant to another shard through the running controller, and list the latest
 * moves, whatever started them (by hand, a drain, an upgrade, consolidation, a lost shard).
 */
export function registerTenantMoveCommand(tenant: Command): void {
  tenant
    .command('move')
    .description(
      'move a tenant to another shard without failing its requests (needs a running controller)',
    )
    .argument('<server_name>', 'the tenant to move')
    .option(
      '--to <shard_id>',
      'the shard to move it to (default: the one placement picks)',
      plainName,
    )
    .option('--data-dir <dir>', DATA_DIR_HELP, DEFAULT_DATA_DIR)
    .option('--json', 'print the result as JSON')
    .action(
      async (serverName: string, options: { to?: string; dataDir: string; json?: boolean }) => {
        const { checkServerName } = await import('../../controller/tenant-admin.js');
        checkServerName(serverName);
        const controller = await requireRunningController(options.dataDir);
        const result = await controller.moveTenant(serverName, options.to);
        if (options.json) return printJson(result);
        process.stdout.write(formatMoveResult(result));
      },
    );
}

export function registerMovesCommand(program: Command): void {
  program
    .command('moves')
    .description('list the latest tenant moves (newest first) of the running controller')
    .option('--data-dir <dir>', DATA_DIR_HELP, DEFAULT_DATA_DIR)
    .option('--json', 'print a JSON array')
    .action(async (options: { dataDir: string; json?: boolean }) => {
      const controller = await requireRunningController(options.dataDir);
      const moves = await controller.moves();
      if (options.json) return printJson(moves);
      process.stdout.write(formatMoves(moves));
    });
}

export function formatMoveResult(result: MoveResult): string {
  return `moved ${result.server_name} from ${result.from} to ${result.to} in ${result.duration_ms} ms\n`;
}

export function formatMoves(moves: readonly MoveRecord[]): string {
  const rows = moves.map((move) => [
    new Date(move.started_ts).toISOString(),
    move.server_name,
    move.from,
    move.to,
    move.reason,
    move.duration_ms === null ? '-' : `${move.duration_ms} ms`,
    move.outcome,
    move.error ?? '',
  ]);
  return formatTable([
    ['STARTED', 'SERVER_NAME', 'FROM', 'TO', 'REASON', 'DURATION', 'OUTCOME', 'ERROR'],
    ...rows,
  ]);
}
