/**
 * The shard's Prometheus metrics, in a registry the shard owns (never prom-client's global one,
 * so that two shards in one process, as in tests, keep their own). Every tenant metric carries
 * `server_name`; tenant gauges are read from the tenants at scrape time, so a removed tenant
 * disappears from them by itself. Federation metrics are read the same way from each running
 * tenant's plain counters (`Homeserver.federationStats`): a hibernated tenant has none.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FederationStats } from '../homeserver/homeserver.js';
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
    registerFederationMetrics(tenants, registers);
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

/**
 * The `marina_federation_*` metrics, read at scrape time from each running tenant (no database
 * access: in-memory numbers). The `_total` ones are counters set to the running tenant's totals,
 * which start from 0 when it starts or wakes: `rate()` sees that as a counter reset.
 */
function registerFederationMetrics(tenants: () => Iterable<TenantHost>, registers: Registry[]) {
  function* running(): Generator<[string, FederationStats]> {
    for (const tenant of tenants()) {
      const stats = tenant.federationStats();
      if (stats !== undefined) yield [tenant.serverName, stats];
    }
  }
  new Gauge({
    name: 'marina_federation_outbound_destinations',
    help: 'Destinations a running tenant has a sender for, by state: sending, backing_off, idle',
    labelNames: ['server_name', 'state'],
    registers,
    collect() {
      this.reset();
      for (const [serverName, stats] of running()) {
        for (const [state, count] of Object.entries(stats.outbound.destinations)) {
          this.set({ server_name: serverName, state }, count);
        }
      }
    },
  });
  /** A counter with `server_name` and, if `label` is given, one value of it per key `read` gives. */
  const runningTotals = (
    name: string,
    help: string,
    label: string | undefined,
    read: (stats: FederationStats) => Readonly<Record<string, number>>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: label === undefined ? ['server_name'] : ['server_name', label],
      registers,
      collect() {
        this.reset();
        for (const [serverName, stats] of running()) {
          for (const [value, total] of Object.entries(read(stats))) {
            const labels = label === undefined ? {} : { [label]: value };
            this.inc({ server_name: serverName, ...labels }, total);
          }
        }
      },
    });
  runningTotals(
    'marina_federation_outbound_transactions_total',
    'Transactions sent to other servers by the running tenant: sent (200) or failed',
    'result',
    ({ outbound }) => ({ sent: outbound.transactionsSent, failed: outbound.transactionsFailed }),
  );
  runningTotals(
    'marina_federation_outbound_pdus_total',
    'PDUs in transactions another server answered with a 200, since the tenant started',
    undefined,
    ({ outbound }) => ({ all: outbound.pdusSent }),
  );
  runningTotals(
    'marina_federation_outbound_edus_total',
    'EDUs in transactions another server answered with a 200, since the tenant started',
    undefined,
    ({ outbound }) => ({ all: outbound.edusSent }),
  );
  runningTotals(
    'marina_federation_inbound_transactions_total',
    'Transactions (PUT /send) received by the running tenant: accepted or refused',
    'result',
    ({ inbound }) => ({ ...inbound.transactions }),
  );
  runningTotals(
    'marina_federation_inbound_pdus_total',
    'PDUs of received transactions, by outcome: accepted, soft_failed, rejected, refused',
    'outcome',
    ({ inbound }) => ({ ...inbound.pdus }),
  );
}
