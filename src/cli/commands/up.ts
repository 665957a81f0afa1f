import type { Command } from 'commander';
import { LocalTenantStore } from '../../controller/local-tenant-store.js';
import { Shard } from '../../shard/shard.js';
import { localBaseUrl, parseListenAddress } from '../listen-address.js';
import { createProcessLogger } from '../logger.js';
import { stopOnSignals } from '../signals.js';

/** The tenant the embedded default serves. */
export const EMBEDDED_TENANT = 'localhost';

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run the embedded default: the homeserver "localhost" with SQLite and local media')
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option('--listen <host:port>', 'address to serve HTTP on', '127.0.0.1:8008')
    .action(async (options: { dataDir: string; listen: string }) => {
      const { host, port } = parseListenAddress(options.listen);
      const logger = createProcessLogger('marina');
      const store = new LocalTenantStore(options.dataDir);
      if (!(await store.exists(EMBEDDED_TENANT))) {
        await store.create(EMBEDDED_TENANT);
        logger.info(
          { server_name: EMBEDDED_TENANT, tenant_dir: store.tenantDir(EMBEDDED_TENANT) },
          `created tenant ${EMBEDDED_TENANT}; see its settings with: marina tenant show ${EMBEDDED_TENANT} --data-dir ${options.dataDir}`,
        );
      }
      const config = await store.load(EMBEDDED_TENANT);
      const shard = await Shard.start({
        logger,
        tenants: [config],
        defaultTenant: EMBEDDED_TENANT,
        listen: { host, port },
        publicBaseUrlFor: (_serverName, boundPort) => localBaseUrl(host, boundPort),
      });
      const url = localBaseUrl(host, shard.port);
      logger.info(
        {
          url,
          listening: `http://${host.includes(':') ? `[${host}]` : host}:${shard.port}`,
          data_dir: store.dataDir,
          tenant_dir: store.tenantDir(EMBEDDED_TENANT),
        },
        `serving ${EMBEDDED_TENANT} at ${url} (data in ${store.tenantDir(EMBEDDED_TENANT)})`,
      );
      stopOnSignals(logger, () => shard.stop());
    });
}
