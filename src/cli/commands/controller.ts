import type { Command } from 'commander';
import { addControllerKnobOptions, type ControllerKnobOptions } from '../controller-knobs.js';

export interface ControllerCommandOptions extends ControllerKnobOptions {
  dataDir: string;
  listen: string;
  leaveShardsRunning?: boolean;
  routerUrl?: string;
}

/**
 * `marina controller`: the local backend's controller in the foreground. Its shards outlive it
 * (they log to `DIR/logs/`, passed through to its standard error while it runs): a controller
 * that dies, or stops with `--leave-shards-running`, leaves them serving, and the next one
 * adopts them. The actions live in controller-actions.ts, loaded when one runs (see main.ts).
 */
export function registerControllerCommand(program: Command): void {
  const command = program
    .command('controller')
    .description(
      'run the tenant registry, N shard processes and the admin API (docs/controller.md)',
    )
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option(
      '--listen <host:port>',
      'address of the admin API; internal, keep it on loopback',
      '127.0.0.1:0',
    )
    .option(
      '--leave-shards-running',
      'on SIGTERM/SIGINT stop the controller alone: the shards keep serving and the next controller adopts them',
    )
    .option(
      '--router-url <url>',
      "the router's traffic URL, passed to the shards as --federation-router (tenants reach each other through it)",
    )
    // `marina controller --data-dir DIR backup FILE`: options before a subcommand are its own.
    .enablePositionalOptions();
  registerBackupCommands(command);
  addControllerKnobOptions(command).action(async (options: ControllerCommandOptions) => {
    const { runController } = await import('./controller-actions.js');
    await runController(options);
  });
}

/** `marina controller backup FILE` and `marina controller restore FILE` (the registry). */
function registerBackupCommands(controller: Command): void {
  const dataDirOf = (options: { dataDir?: string }, command: Command): string =>
    options.dataDir ?? (command.parent?.opts() as { dataDir: string }).dataDir;
  controller
    .command('backup')
    .description("save the controller's state (its registry) to FILE; safe while it runs")
    .argument('<file>', 'where to write the backup (must not exist)')
    .option('--data-dir <dir>', 'where tenants keep their data (default ./marina-data)')
    .action(async (file: string, options: { dataDir?: string }, command: Command) => {
      const { backupController } = await import('./controller-actions.js');
      await backupController(dataDirOf(options, command), file);
    });
  controller
    .command('restore')
    .description(
      "bring the controller's state (its registry) back from FILE; no controller may run",
    )
    .argument('<file>', 'a file written by `marina controller backup`')
    .option('--data-dir <dir>', 'where tenants keep their data (default ./marina-data)')
    .action(async (file: string, options: { dataDir?: string }, command: Command) => {
      const { restoreController } = await import('./controller-actions.js');
      await restoreController(dataDirOf(options, command), file);
    });
}
