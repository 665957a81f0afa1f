/**
 * What `marina up` does (its options: up.ts). A module of its own so that the `marina` command
 * loads the controller and the router only when it runs.
 */
import { Controller } from '../../controller/controller.js';
import { LocalTenantStore } from '../../controller/local-tenant-store.js';
import type { PlacementSource } from '../../router/placement-source.js';
import type { Placement } from '../../router/placement.js';
import { Router } from '../../router/router.js';
import { localBaseUrl, loopbackUrl, parseListenAddress } from '../listen-address.js';
import { parseControllerKnobs } from '../controller-knobs.js';
import { createProcessLogger } from '../logger.js';
import { httpsListening, readTlsOptions } from '../tls-options.js';
import { marinaVersion } from '../marina-version.js';
import { stopOnSignals } from '../signals.js';
import { EMBEDDED_TENANT, type UpOptions } from './up.js';

/** How long the router's follower waits on the controller per round. */
const PLACEMENT_POLL_MS = 30_000;
/** The router `up` runs beside its controller (see RouterAcks). */
const IN_PROCESS_ROUTER_ID = 'up';

export async function runUp(options: UpOptions): Promise<void> {
  const { host, port } = parseListenAddress(options.listen);
  const knobs = parseControllerKnobs(options);
  const tls = await readTlsOptions(options);
  const idleHibernateMs = options.idleHibernateMs;
  if (idleHibernateMs !== undefined && !/^[1-9][0-9]*$/.test(idleHibernateMs)) {
    throw new Error(
      `--idle-hibernate-ms wants a positive number of milliseconds, not "${idleHibernateMs}"`,
    );
  }
  const logger = createProcessLogger('marina');
  const store = new LocalTenantStore(options.dataDir);
  if (!(await store.exists(EMBEDDED_TENANT))) {
    await store.create(EMBEDDED_TENANT);
    logger.info(
      { server_name: EMBEDDED_TENANT, tenant_dir: store.tenantDir(EMBEDDED_TENANT) },
      `created tenant ${EMBEDDED_TENANT}; see its settings with: marina tenant show ${EMBEDDED_TENANT} --data-dir ${options.dataDir}`,
    );
  }

  // The router listens first: the shards need its port for the tenants' public URLs.
  const placements = new ControllerFollower();
  const router = await Router.start({
    logger,
    source: placements,
    listen: { host, port },
    defaultTenant: EMBEDDED_TENANT,
    tls,
  });
  const running: { controller?: Controller } = {};
  stopOnSignals(logger, async () => {
    await router.stop();
    await running.controller?.stop();
  });
  // Tenants are reached through the router, by their name: http://alpha.localhost:8008.
  const publicBaseUrl = localBaseUrl('{server_name}', router.port);
  const controller = await Controller.start({
    dataDir: options.dataDir,
    logger,
    listen: { host: '127.0.0.1', port: 0 },
    ...knobs,
    version: marinaVersion(),
    // One stream of JSON log lines for everything `up` runs.
    shardOutput: {
      stdout: (line) => process.stdout.write(`${line}\n`),
      stderr: (line) => process.stdout.write(`${line}\n`),
    },
    shardArgs: [
      '--public-base-url',
      publicBaseUrl,
      // Tenants reach each other through this router: same requests, no DNS, no TLS.
      '--federation-router',
      loopbackUrl(host, router.port),
      ...(idleHibernateMs === undefined ? [] : ['--idle-hibernate-ms', idleHibernateMs]),
    ],
  });
  running.controller = controller;
  // A crash must not leave shards behind (a clean stop has stopped them already).
  process.once('exit', () => controller.killShardsNow());
  placements.follow(controller);

  const url = localBaseUrl(host, router.port);
  logger.info(
    {
      url,
      listening: `http://${host.includes(':') ? `[${host}]` : host}:${router.port}`,
      ...(tls && router.tlsPort !== undefined
        ? { tls_listening: httpsListening(tls.listen.host, router.tlsPort) }
        : {}),
      data_dir: store.dataDir,
      tenant_dir: store.tenantDir(EMBEDDED_TENANT),
      shards: await controller.shardIds(),
    },
    `serving ${EMBEDDED_TENANT} at ${url} (data in ${store.tenantDir(EMBEDDED_TENANT)})`,
  );
}

/** Hands the router each placement of the controller running in this process. */
class ControllerFollower implements PlacementSource {
  private onPlacement: ((placement: Placement) => void) | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  start(onPlacement: (placement: Placement) => void): void {
    this.onPlacement = onPlacement;
  }

  follow(controller: Controller): void {
    this.loop = (async () => {
      let since: number | undefined;
      while (!this.stopping.signal.aborted) {
        try {
          // Asking with `since` tells the controller this router routes by that version.
          const placement = await controller.placement(
            since,
            PLACEMENT_POLL_MS,
            this.stopping.signal,
            IN_PROCESS_ROUTER_ID,
          );
          if (placement.version !== since) {
            this.onPlacement?.({
              version: placement.version,
              tenants: placement.tenants.map((tenant) => ({
                server_name: tenant.serverName,
                hostnames: tenant.hostnames,
                shard_id: tenant.shardId,
                traffic_url: tenant.trafficUrl,
                moving: tenant.moving,
              })),
            });
          }
          since = placement.version;
        } catch {
          // The controller is stopping; the loop ends with the abort.
          if (!this.stopping.signal.aborted) await new Promise((r) => setTimeout(r, 250));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }
}
