/**
 * What `marina shard` does once its options are checked (shard.ts): start the shard and its admin
 * API, then print the ready line. A module of its own so that the `marina` command loads the
 * shard only when it runs.
 */
import { resolve } from 'node:path';
import { createInternalApi } from '../../http/internal-api.js';
import { shardAdminRoutes } from '../../shard/shard-admin-api.js';
import { Shard } from '../../shard/shard.js';
import { parseListenAddress } from '../listen-address.js';
import { createProcessLogger } from '../logger.js';
import { stopOnSignals, whenParentGone } from '../signals.js';
import type { ShardCommandOptions } from './shard.js';

/** Runs the shard `shardId`; its admin API takes `token`. */
export async function runShard(
  shardId: string,
  token: string,
  options: ShardCommandOptions,
): Promise<void> {
  const logger = createProcessLogger('marina-shard', { stream: 'stderr' }).child({
    shard_id: shardId,
  });
  const traffic = parseListenAddress(options.listen);
  const admin = parseListenAddress(options.adminListen);

  const shard = await Shard.start({
    logger,
    listen: traffic,
    idleHibernateMs: options.idleHibernateMs,
    limits: { maxInFlight: options.maxInFlight, maxQueued: options.maxQueued },
    publicBaseUrlFor: (serverName) => options.publicBaseUrl.replaceAll('{server_name}', serverName),
    federationRouterUrl: options.federationRouter,
  });
  const adminApi = createInternalApi({
    logger,
    token,
    routes: shardAdminRoutes(shard, shardId),
  });
  try {
    await adminApi.listen(admin.host, admin.port);
  } catch (error) {
    await shard.stop();
    throw error;
  }
  const stopNow = stopOnSignals(logger, async () => {
    await adminApi.close();
    await shard.stop();
  });
  // A controller killed with SIGKILL cannot stop its shards: each notices by itself, and an
  // orphan whose clean stop hangs exits anyway rather than linger.
  if (options.stopWhenStdinCloses) {
    whenParentGone(() => {
      stopNow('the controller is gone');
      setTimeout(() => {
        logger.error(
          { deadline_ms: ORPHAN_STOP_DEADLINE_MS },
          'the controller is gone and the shard did not stop in time: exiting now',
        );
        process.exit(1);
      }, ORPHAN_STOP_DEADLINE_MS).unref();
    });
  }
  const ready = {
    event: 'shard-ready',
    shard_id: shardId,
    traffic_url: urlOf(traffic.host, shard.port),
    admin_url: urlOf(admin.host, adminApi.port),
  };
  logger.info(
    {
      ...ready,
      data_dir: resolve(options.dataDir),
      federation_router: options.federationRouter ?? null,
    },
    'shard listening',
  );
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

/** How long a shard whose controller is gone may take to stop cleanly before it exits. */
const ORPHAN_STOP_DEADLINE_MS = 10_000;

/** The URL a process on this machine reaches a listener at (wildcards → loopback). */
function urlOf(host: string, port: number): string {
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`;
}
