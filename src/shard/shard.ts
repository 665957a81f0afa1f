import type { Logger } from 'pino';
import { MatrixError } from '../core/errors.js';
import { tenantEndpoints } from '../api/endpoints.js';
import { createHttpApp, type HttpApp } from '../http/http-app.js';
import { startHomeserver, type Homeserver } from '../homeserver/homeserver.js';
import type { TenantConfig } from '../services/tenant-config.js';
import { WalCheckpointer } from '../storage/wal-checkpointer.js';

export interface ShardOptions {
  logger: Logger;
  tenants: readonly TenantConfig[];
  /** Serves this tenant for hosts that name no tenant (the embedded one-homeserver default). */
  defaultTenant?: string;
  /** Where to listen; port 0 picks a free port. */
  listen: { host: string; port: number };
  /** Base URL at which clients reach a tenant that sets no `public_baseurl`, given the bound port. */
  publicBaseUrlFor: (serverName: string, port: number) => string;
  maxBodyBytes?: number;
}

/**
 * A process's share of tenants behind one HTTP app, each found by the host name of a request.
 * Tenants start when the shard starts; one that fails to start is logged and answers its own
 * requests with an error, while the others serve.
 */
export class Shard {
  private readonly homeservers = new Map<string, Homeserver>();
  private readonly byHostname = new Map<string, string>();
  private tenantsStarted: Promise<void> = Promise.resolve();
  readonly app: HttpApp;
  /** Checkpoints the tenants' SQLite logs off the event loop (see WalCheckpointer). */
  private readonly walCheckpointer: WalCheckpointer;

  private constructor(private readonly options: ShardOptions) {
    this.walCheckpointer = new WalCheckpointer(options.logger);
    this.app = createHttpApp({
      logger: options.logger,
      endpoints: tenantEndpoints,
      maxBodyBytes: options.maxBodyBytes,
      resolveTenant: async (hostname) => {
        await this.tenantsStarted;
        return this.tenantFor(hostname);
      },
    });
  }

  /**
   * Listens, then starts the tenants (a request that comes before its tenant is up waits for it).
   * Returns once every tenant has started or failed.
   */
  static async start(options: ShardOptions): Promise<Shard> {
    const shard = new Shard(options);
    await shard.app.listen(options.listen);
    const tenantsStarted = Promise.all(
      options.tenants.map((config) => shard.startTenant(config, shard.port)),
    );
    shard.tenantsStarted = tenantsStarted.then(() => undefined);
    await tenantsStarted;
    return shard;
  }

  /** The port the shard listens on. */
  get port(): number {
    const address = this.app.server.address();
    return typeof address === 'object' && address ? address.port : this.options.listen.port;
  }

  async stop(): Promise<void> {
    await this.app.close();
    const running = [...this.homeservers.values()];
    this.homeservers.clear();
    await Promise.allSettled(running.map((homeserver) => homeserver.stop()));
    await this.walCheckpointer.close();
  }

  private async startTenant(config: TenantConfig, port: number): Promise<void> {
    for (const hostname of [config.server_name, ...config.hostnames]) {
      this.byHostname.set(hostname.toLowerCase(), config.server_name);
    }
    try {
      const homeserver = await startHomeserver(config, {
        logger: this.options.logger,
        defaultPublicBaseUrl: this.options.publicBaseUrlFor(config.server_name, port),
        walCheckpointer: this.walCheckpointer,
      });
      this.homeservers.set(config.server_name, homeserver);
    } catch (error) {
      this.options.logger.error(
        { server_name: config.server_name, err: error },
        'homeserver failed to start; its requests get 503 until it is fixed and the shard restarted',
      );
    }
  }

  private tenantFor(hostname: string | undefined) {
    const serverName =
      (hostname && this.byHostname.get(hostname)) ?? this.options.defaultTenant ?? undefined;
    if (!serverName) {
      throw new MatrixError(
        'M_NOT_FOUND',
        `No homeserver is served at host ${hostname ?? '(none)'}`,
      );
    }
    const homeserver = this.homeservers.get(serverName);
    if (!homeserver) {
      throw new MatrixError('M_UNKNOWN', `The homeserver ${serverName} is unavailable`, {
        status: 503,
      });
    }
    return homeserver.context;
  }
}
