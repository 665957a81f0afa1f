import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { tenantEndpoints } from '../api/endpoints.js';
import { createHttpApp, type HttpApp, type ResponseRecord } from '../http/http-app.js';
import { startHomeserver } from '../homeserver/homeserver.js';
import type { PasswordHasherOptions } from '../services/passwords/password-hasher.js';
import type { TenantConfig } from '../services/tenant-config.js';
import { WalCheckpointer } from '../storage/wal-checkpointer.js';
import { isLongPoll } from './long-poll.js';
import { RouterFederationTransport } from './router-federation-transport.js';
import { ShardMetrics } from './shard-metrics.js';
import { TenantTurns } from './tenant-turns.js';
import { DEFAULT_IDLE_HIBERNATE_MS, DEFAULT_TENANT_LIMITS } from './shard-defaults.js';
import { TenantHost, notServed, type TenantLimits, type TenantStatus } from './tenant-host.js';

export interface ShardOptions {
  logger: Logger;
  /** Tenants registered at start (each starts on its first request, like any other). */
  tenants?: readonly TenantConfig[];
  /** Where to listen for tenant traffic; port 0 picks a free port. */
  listen: { host: string; port: number };
  /** Base URL at which clients reach a tenant that sets no `public_baseurl`, given the bound port. */
  publicBaseUrlFor: (serverName: string, port: number) => string;
  maxBodyBytes?: number;
  /** An awake tenant with nothing in flight for this long is hibernated (default 5 minutes). */
  idleHibernateMs?: number;
  /** A tenant that failed to start is tried again on a request this long after (default 30 s). */
  retryFailedAfterMs?: number;
  /** Per-tenant in-flight caps and queues (see DEFAULT_TENANT_LIMITS). */
  limits?: Partial<TenantLimits>;
  /** Times activity and idleness (tests pass a manual clock). */
  clock?: Clock;
  passwordHashing?: PasswordHasherOptions;
  /**
   * The router's traffic URL: tenants reach the other tenants of the deployment through it
   * (see RouterFederationTransport). Absent: only by Internet discovery.
   */
  federationRouterUrl?: string;
}

export const DEFAULT_RETRY_FAILED_AFTER_MS = 30_000;

/**
 * A process's share of tenants behind one HTTP app, each found by the host name of a request.
 * Tenants are added, replaced and removed at run time; each starts on its first request and
 * hibernates when idle (TenantHost). A tenant that fails answers its own requests with 503 while
 * the others serve. See docs/shard.md.
 */
export class Shard {
  readonly app: HttpApp;
  readonly metrics: ShardMetrics;
  readonly #options: ShardOptions;
  readonly #tenants = new Map<string, TenantHost>();
  readonly #byHostname = new Map<string, TenantHost>();
  /** Checkpoints the tenants' SQLite logs off the event loop (see WalCheckpointer). */
  readonly #walCheckpointer: WalCheckpointer;
  readonly #idleSweep: NodeJS.Timeout;
  readonly #idleHibernateMs: number;
  /** Requests start in turns across tenants (see TenantTurns). */
  readonly #turns = new TenantTurns<TenantHost>();
  /** Shared by the shard's tenants: which destinations the router said are not here. */
  readonly #federationTransport: RouterFederationTransport | undefined;

  private constructor(options: ShardOptions) {
    this.#options = options;
    this.#federationTransport =
      options.federationRouterUrl === undefined
        ? undefined
        : new RouterFederationTransport(options.federationRouterUrl, options.clock ?? systemClock);
    this.#walCheckpointer = new WalCheckpointer(options.logger);
    this.metrics = new ShardMetrics(() => this.#tenants.values());
    this.app = createHttpApp({
      logger: options.logger,
      endpoints: tenantEndpoints,
      maxBodyBytes: options.maxBodyBytes,
      resolveTenant: async (hostname, request) => {
        const tenant = this.#tenantAt(hostname);
        if (!tenant) throw notServed(hostname ?? '(none)');
        // Named from here on: a refusal (429, 503) is logged and counted as this tenant's.
        request.identify(tenant.serverName);
        const admission = await tenant.admit({
          longPoll: isLongPoll(request.method, request.url),
          signal: request.signal,
        });
        // Admitted (within its tenant's cap), it then waits for its tenant's turn to start.
        try {
          await this.#turns.take(tenant, request.signal);
        } catch (error) {
          admission.release();
          throw error;
        }
        return admission;
      },
      onResponse: (record) => this.#observe(record),
    });
    this.#idleHibernateMs = options.idleHibernateMs ?? DEFAULT_IDLE_HIBERNATE_MS;
    // One sweep for all tenants rather than a timer each: a tenant hibernates between
    // idleHibernateMs and a quarter more after its last request.
    const sweepMs = Math.min(Math.max(this.#idleHibernateMs / 4, 50), 30_000);
    this.#idleSweep = setInterval(() => {
      for (const tenant of this.#tenants.values()) tenant.hibernateIfIdle();
    }, sweepMs);
    this.#idleSweep.unref();
  }

  /** Listens, and registers `options.tenants` (none is started until its first request). */
  static async start(options: ShardOptions): Promise<Shard> {
    const shard = new Shard(options);
    try {
      for (const config of options.tenants ?? []) await shard.putTenant(config);
      await shard.app.listen(options.listen);
    } catch (error) {
      await shard.stop();
      throw error;
    }
    return shard;
  }

  /** The port the shard listens on. */
  get port(): number {
    const address = this.app.server.address();
    return typeof address === 'object' && address ? address.port : this.#options.listen.port;
  }

  /**
   * Registers a tenant, or replaces the config of one already here (a running homeserver is
   * hibernated first; the next request starts it with the new config). Nothing starts now.
   * Throws when one of its host names routes to another tenant.
   */
  async putTenant(config: TenantConfig): Promise<void> {
    const hostnames = hostnamesOf(config);
    for (const hostname of hostnames) {
      const owner = this.#byHostname.get(hostname);
      if (owner && owner.serverName !== config.server_name) {
        throw new HostnameTakenError(hostname, owner.serverName);
      }
    }
    const existing = this.#tenants.get(config.server_name);
    if (existing) {
      for (const hostname of hostnamesOf(existing.config)) this.#byHostname.delete(hostname);
    }
    const tenant = existing ?? this.#newTenantHost(config);
    this.#tenants.set(config.server_name, tenant);
    for (const hostname of hostnames) this.#byHostname.set(hostname, tenant);
    if (existing) await existing.reconfigure(config);
  }

  /**
   * Stops serving a tenant: its host names answer 404 at once, requests in flight finish, then
   * its homeserver stops. Its data is untouched. False when it was not here.
   */
  async removeTenant(serverName: string): Promise<boolean> {
    const tenant = this.#tenants.get(serverName);
    if (!tenant) return false;
    this.#tenants.delete(serverName);
    for (const hostname of hostnamesOf(tenant.config)) {
      if (this.#byHostname.get(hostname) === tenant) this.#byHostname.delete(hostname);
    }
    await tenant.retire();
    await this.metrics.forget(serverName);
    return true;
  }

  /** Hibernates a tenant now (see TenantHost.hibernate). False when it is not here. */
  async hibernateTenant(serverName: string): Promise<boolean> {
    const tenant = this.#tenants.get(serverName);
    if (!tenant) return false;
    await tenant.hibernate();
    return true;
  }

  tenantStatuses(): TenantStatus[] {
    return [...this.#tenants.values()].map((tenant) => tenant.status());
  }

  async stop(): Promise<void> {
    clearInterval(this.#idleSweep);
    const tenants = [...this.#tenants.values()];
    this.#tenants.clear();
    this.#byHostname.clear();
    // Retiring ends long-poll waits, so that closing the app need not wait for their timeouts.
    await Promise.allSettled([this.app.close(), ...tenants.map((tenant) => tenant.retire())]);
    await this.#walCheckpointer.close();
  }

  #newTenantHost(config: TenantConfig): TenantHost {
    const { logger } = this.#options;
    return new TenantHost(config, {
      logger,
      clock: this.#options.clock ?? systemClock,
      idleHibernateMs: this.#idleHibernateMs,
      retryFailedAfterMs: this.#options.retryFailedAfterMs ?? DEFAULT_RETRY_FAILED_AFTER_MS,
      limits: { ...DEFAULT_TENANT_LIMITS, ...this.#options.limits },
      start: (tenantConfig) =>
        startHomeserver(tenantConfig, {
          logger,
          defaultPublicBaseUrl: this.#options.publicBaseUrlFor(tenantConfig.server_name, this.port),
          walCheckpointer: this.#walCheckpointer,
          passwordHashing: this.#options.passwordHashing,
          federationTransport: this.#federationTransport,
        }),
    });
  }

  /** The tenant that claims a host name; a host no tenant claims is nobody's. */
  #tenantAt(hostname: string | undefined): TenantHost | undefined {
    return hostname === undefined ? undefined : this.#byHostname.get(hostname);
  }

  #observe(record: ResponseRecord): void {
    const serverName = record.serverName ?? this.#tenantAt(record.hostname)?.serverName;
    // Requests for hosts served by no tenant are no tenant's: they stay out of tenant metrics.
    if (serverName === undefined) return;
    this.metrics.observeResponse({
      serverName,
      method: record.method,
      status: record.status,
      durationSeconds: record.durationSeconds,
    });
  }
}

/** A tenant's host name already routes to another tenant of the shard. */
export class HostnameTakenError extends Error {
  constructor(
    readonly hostname: string,
    readonly owner: string,
  ) {
    super(`host ${hostname} already routes to the tenant ${owner}`);
    this.name = 'HostnameTakenError';
  }
}

function hostnamesOf(config: TenantConfig): string[] {
  return [...new Set([config.server_name, ...config.hostnames].map((name) => name.toLowerCase()))];
}
