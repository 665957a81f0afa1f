import type { Command } from 'commander';
import { Controller } from '../../controller/controller.js';
import { controllerPaths } from '../../controller/controller-files.js';
import {
  DEFAULT_MAX_TENANTS_PER_SHARD,
  parseMaxTenantsPerShard,
} from '../../controller/placement.js';
import { parseListenAddress } from '../listen-address.js';
import { createProcessLogger } from '../logger.js';
import { stopOnSignals } from '../signals.js';

interface ControllerCommandOptions {
  dataDir: string;
  listen: string;
  shards: string;
  maxTenantsPerShard: string;
}

/**
 * `marina controller`: the local backend's controller in the foreground. Its shards' output is
 * passed through, line by line, to its own standard output and error.
 */
export function registerControllerCommand(program: Command): void {
  program
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
    .option('--shards <n>', 'how many shard processes to run', '1')
    .option(
      '--max-tenants-per-shard <n>',
      'place no more tenants than this on one shard',
      String(DEFAULT_MAX_TENANTS_PER_SHARD),
    )
    .action(async (options: ControllerCommandOptions) => {
      const listen = parseListenAddress(options.listen);
      const loopback = ['127.0.0.1', '::1', 'localhost'].includes(listen.host);
      const shards = Number(options.shards);
      if (!Number.isSafeInteger(shards) || shards < 1) {
        throw new Error(`--shards wants a positive integer, not "${options.shards}"`);
      }
      const maxTenantsPerShard = parseMaxTenantsPerShard(options.maxTenantsPerShard);
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
        shards,
        maxTenantsPerShard,
        shardOutput: {
          stdout: (line) => process.stdout.write(`${line}\n`),
          stderr: (line) => process.stderr.write(`${line}\n`),
        },
      });
      const controller = await starting;
      if (controller === undefined) return;
      // A crash must not leave shards behind (a clean stop has stopped them already).
      process.once('exit', () => controller.killShardsNow());
      logger.info(
        {
          url: controller.url,
          data_dir: controller.dataDir,
          shards: controller.shardIds,
          max_tenants_per_shard: maxTenantsPerShard,
          admin_token_file: controllerPaths(controller.dataDir).adminToken,
        },
        'controller ready',
      );
    });
}
