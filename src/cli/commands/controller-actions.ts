/**
 * What `marina controller`, `marina controller backup` and `marina controller restore` do (their
 * options: controller.ts). A module of its own so that the `marina` command loads the controller
 * only when one of them runs.
 */
import { Controller } from '../../controller/controller.js';
import { controllerPaths } from '../../controller/controller-files.js';
import { backupRegistry, restoreRegistry } from '../../controller/registry/registry-backup.js';
import { parseControllerKnobs } from '../controller-knobs.js';
import { parseListenAddress } from '../listen-address.js';
import { createProcessLogger } from '../logger.js';
import { marinaVersion } from '../marina-version.js';
import { stopOnSignals } from '../signals.js';
import type { ControllerCommandOptions } from './controller.js';

export async function runController(options: ControllerCommandOptions): Promise<void> {
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
}

export async function backupController(dataDir: string, file: string): Promise<void> {
  const summary = await backupRegistry(dataDir, file);
  process.stdout.write(
    `saved the registry (${summary.tenants} tenant(s), ${summary.shards} shard(s)) to ${file}\n`,
  );
}

export async function restoreController(dataDir: string, file: string): Promise<void> {
  const summary = await restoreRegistry(dataDir, file);
  process.stdout.write(
    `restored the registry (${summary.tenants} tenant(s)) from ${file}; ` +
      'the next controller start places and serves them\n',
  );
}
