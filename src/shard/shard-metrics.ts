/**
 * The shard's Prometheus metrics, in a registry the shard owns (never prom-client's global one,
 * so that two shards in one process, as in tests, keep their own). Every tenant metric carries
 * `server_name`; tenant gauges are read from the tenants at scrape time, so a removed tenant
 * disappears from them by itself.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { REPORTED_TENANT_STATES, type TenantHost } from './tenant-host.js';

/** Up to a minute: `/sync` long-polls last about 30 s. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface ResponseObservation {
  serverName: string;
  method: string;
  status: number;
  durationSeconds: number;
}

export class ShardMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'server_name' | 'method' | 'status'>;
  readonly #duration: Histogram<'server_name'>;

  constructor(tenants: () => Iterable<TenantHost>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'marina_http_requests_total',
      help: 'HTTP requests answered, per tenant, method and status',
      labelNames: ['server_name', 'method', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'marina_http_request_duration_seconds',
      help: 'Time from request to response, per tenant (long-polls included)',
      labelNames: ['server_name'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'marina_tenant_state',
      help: 'Tenant state: 1 for the state it is in, 0 for the others',
      labelNames: ['server_name', 'state'],
      registers,
      collect() {
        this.reset();
        for (const tenant of tenants()) {
          for (const state of REPORTED_TENANT_STATES) {
            this.set(
              { server_name: tenant.serverName, state },
              tenant.reportedState === state ? 1 : 0,
            );
          }
        }
      },
    });
    new Gauge({
      name: 'marina_tenant_in_flight',
      help: 'Requests a tenant is serving now (long-polls included)',
      labelNames: ['server_name'],
      registers,
      collect() {
        this.reset();
        for (const tenant of tenants())
          this.set({ server_name: tenant.serverName }, tenant.inFlight);
      },
    });
    new Gauge({
      name: 'marina_tenant_queue_length',
      help: 'Requests waiting for an in-flight slot of a tenant',
      labelNames: ['server_name'],
      registers,
      collect() {
        this.reset();
        for (const tenant of tenants()) this.set({ server_name: tenant.serverName }, tenant.queued);
      },
    });
  }

  observeResponse(observation: ResponseObservation): void {
    const { serverName, method, status, durationSeconds } = observation;
    this.#requests.inc({ server_name: serverName, method, status: String(status) });
    this.#duration.observe({ server_name: serverName }, durationSeconds);
  }

  /** Drops the counters of a tenant no longer served here. */
  async forget(serverName: string): Promise<void> {
    for (const { labels } of (await this.#requests.get()).values) {
      if (labels.server_name === serverName) this.#requests.remove(labels);
    }
    this.#duration.remove({ server_name: serverName });
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
