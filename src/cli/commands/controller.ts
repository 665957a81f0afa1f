import type { Command } from 'commander';
import { Controller } from '../../controller/controller.js';
import { controllerPaths } from '../../controller/controller-files.js';
import { backupRegistry, restoreRegistry } from '../../controller/registry/registry-backup.js';
import {
  addControllerKnobOptions,
  parseControllerKnobs,
  type ControllerKnobOptions,
} from '../controller-knobs.js';
import { parseListenAddress } from '../listen-address.js';
import { createProcessLogger } from '../logger.js';
import { marinaVersion } from '../marina-version.js';
import { stopOnSignals } from '../signals.js';

interface ControllerCommandOptions extends ControllerKnobOptions {
  dataDir: string;
  listen: string;
  leaveShardsRunning?: boolean;
  routerUrl?: string;
}

/**
 * `marina controller`: the local backend's controller in the foreground. Its shards outlive it
 * (they log to `DIR/logs/`, passed through to its standard error while it runs): a controller
 * that dies, or stops with `--leave-shards-running`, leaves them serving, and the next one
 * adopts them.
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
    const listen = parseListenAddress(options.listen);
    const loopback = ['127.0.0.1', '::1', 'localhost'].includes(listen.host);
    const knobs = parseControllerKnobs(options);
    if (options.routerUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(options.routerUrl)) {
      throw new Error(`--router-url wants http://HOST:PORT, not "${options.routerUrl}"`);
    }
    const logger = createProcessLogger('marina-controller');
    if (!loopback) {
      logger.warn(
        { listen: options.listen },
        'the admin API hands out every tenant’s secrets to token holders: keep it on loopback',
      );
    }
    // Signals during the start wait for it, then stop everything it started.
    let starting: Promise<Controller | undefined> = Promise.resolve(undefined);
    stopOnSignals(logger, async () => {
      await (await starting.catch(() => undefined))?.stop();
    });
    starting = Controller.start({
      dataDir: options.dataDir,
      logger,
      listen,
      ...knobs,
      version: marinaVersion(),
      shardsOutliveController: true,
      shardArgs: options.routerUrl === undefined ? [] : ['--federation-router', options.routerUrl],
      leaveShardsOnStop: options.leaveShardsRunning === true,
      shardOutput: {
        stdout: (line) => process.stdout.write(`${line}\n`),
        stderr: (line) => process.stderr.write(`${line}\n`),
      },
    });
    const controller = await starting;
    if (controller === undefined) return;
    // A controller that crashes leaves its shards serving: the next one adopts them.
    logger.info(
      {
        url: controller.url,
        data_dir: controller.dataDir,
        shards: await controller.shardIds(),
        version: controller.version,
        max_tenants_per_shard: knobs.maxTenantsPerShard,
        admin_token_file: controllerPaths(controller.dataDir).adminToken,
      },
      'controller ready',
    );
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
      const summary = await backupRegistry(dataDirOf(options, command), file);
      process.stdout.write(
        `saved the registry (${summary.tenants} tenant(s), ${summary.shards} shard(s)) to ${file}\n`,
      );
    });
  controller
    .command('restore')
    .description(
      "bring the controller's state (its registry) back from FILE; no controller may run",
    )
    .argument('<file>', 'a file written by `marina controller backup`')
    .option('--data-dir <dir>', 'where tenants keep their data (default ./marina-data)')
    .action(async (file: string, options: { dataDir?: string }, command: Command) => {
      const summary = await restoreRegistry(dataDirOf(options, command), file);
      process.stdout.write(
        `restored the registry (${summary.tenants} tenant(s)) from ${file}; ` +
          'the next controller start places and serves them\n',
      );
    });
}
