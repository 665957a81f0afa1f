/**
 * The controller's Prometheus metrics (docs/controller.md, "Metrics"), prefix
 * `synapse_shards_controller_` (the names operators of Element's controller already alert on).
 *
 * They live in a registry the controller owns, never prom-client's global one, so that two
 * controllers in one process (tests) keep their own. The project rule "no metric without a
 * `server_name` label" is about tenant metrics; these describe the controller itself (placement,
 * shards, moves, its reconcile loop), so no metric here has a tenant label: per-tenant series
 * would grow with the tenants, which the shards' own metrics already cover.
 *
 * Events (moves, restarts, reconcile passes) are counted as they happen; the current state
 * (tenants by state, shards, tenants per shard, placements waiting for room) is read from the
 * controller's snapshot at scrape time, so a retired shard disappears from the gauges by itself.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MoveReason, ShardState } from './tenant-admin.js';

const PREFIX = 'synapse_shards_controller_';

/** A move takes from a few milliseconds (idle tenant) to tens of seconds (long in-flight work). */
const MOVE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];
/** A reconcile pass reads the registry and may start or stop shards. */
const RECONCILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const TENANT_PLACEMENT_STATES = ['placed', 'pending', 'moving', 'failed'] as const;
export type TenantPlacementState = (typeof TENANT_PLACEMENT_STATES)[number];

/** Shard states listed for every version, so that `…_shards{state="restarting"}` reads 0, not nothing. */
const SHARD_STATES: readonly ShardState[] = [
  'starting',
  'running',
  'restarting',
  'draining',
  'retiring',
  'stopped',
];

export type MoveOutcome = 'done' | 'failed';

/** What the controller holds now, as the gauges report it. */
export interface ControllerSnapshot {
  /** Tenants counted by placement state; a state left out counts 0. */
  readonly tenants: readonly { readonly state: TenantPlacementState; readonly count: number }[];
  readonly shards: readonly {
    readonly shard_id: string;
    readonly version: string;
    readonly state: ShardState;
    readonly tenants: number;
  }[];
  /** Tenants waiting for a shard because every shard they may go to is full. */
  readonly pendingBecauseShardsFull: number;
}

export interface ControllerMetricsOptions {
  /** The Marina version the controller runs (`…_info{version}`). */
  readonly version: string;
  /** Read once per scrape. */
  readonly snapshot: () => ControllerSnapshot | Promise<ControllerSnapshot>;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly #movesStarted: Counter<'reason'>;
  readonly #moves: Counter<'reason' | 'outcome'>;
  readonly #moveDuration: Histogram<'reason'>;
  readonly #shardRestarts: Counter<'shard_id'>;
  readonly #reconcileDuration: Histogram;
  readonly #reconcileErrors: Counter;
  readonly #snapshot: ControllerMetricsOptions['snapshot'];
  /** The latest scrape's snapshot, read by the gauges' `collect`. */
  #current: ControllerSnapshot | undefined;

  constructor(options: ControllerMetricsOptions) {
    this.#snapshot = options.snapshot;
    const registers = [this.registry];
    const current = (): ControllerSnapshot | undefined => this.#current;

    this.#movesStarted = new Counter({
      name: `${PREFIX}moves_started_total`,
      help: 'Tenant moves started, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#moves = new Counter({
      name: `${PREFIX}moves_total`,
      help: 'Tenant moves finished, by reason and outcome (done or failed)',
      labelNames: ['reason', 'outcome'],
      registers,
    });
    this.#moveDuration = new Histogram({
      name: `${PREFIX}move_duration_seconds`,
      help: 'Time from the start of a tenant move to its end (done or failed), by reason',
      labelNames: ['reason'],
      buckets: MOVE_BUCKETS,
      registers,
    });
    this.#shardRestarts = new Counter({
      name: `${PREFIX}shard_restarts_total`,
      help: 'Shard processes restarted after they exited on their own',
      labelNames: ['shard_id'],
      registers,
    });
    this.#reconcileDuration = new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Duration of the reconcile passes that completed',
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: `${PREFIX}reconcile_errors_total`,
      help: 'Reconcile passes that failed',
      registers,
    });

    new Gauge({
      name: `${PREFIX}tenants`,
      help: 'Tenants by placement state (placed, pending, moving, failed)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const snapshot = current();
        if (snapshot === undefined) return;
        for (const state of TENANT_PLACEMENT_STATES) this.set({ state }, 0);
        for (const { state, count } of snapshot.tenants) this.inc({ state }, count);
      },
    });
    new Gauge({
      name: `${PREFIX}shards`,
      help: 'Shards by state and Marina version',
      labelNames: ['state', 'version'],
      registers,
      collect() {
        this.reset();
        const snapshot = current();
        if (snapshot === undefined) return;
        for (const version of new Set(snapshot.shards.map((shard) => shard.version))) {
          for (const state of SHARD_STATES) this.set({ state, version }, 0);
        }
        for (const { state, version } of snapshot.shards) this.inc({ state, version });
      },
    });
    new Gauge({
      name: `${PREFIX}shard_tenants`,
      help: 'Tenants placed on each shard',
      labelNames: ['shard_id', 'version'],
      registers,
      collect() {
        this.reset();
        for (const shard of current()?.shards ?? []) {
          this.set({ shard_id: shard.shard_id, version: shard.version }, shard.tenants);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}pending_shards_full`,
      help: 'Tenants waiting for a shard because every shard they may go to is full',
      registers,
      collect() {
        const snapshot = current();
        if (snapshot !== undefined) this.set(snapshot.pendingBecauseShardsFull);
      },
    });
    new Gauge({
      name: `${PREFIX}info`,
      help: 'Always 1; its version label is the Marina version the controller runs',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version }, 1);
  }

  /** A move begins (its end is `moveFinished`, with the same reason). */
  moveStarted(reason: MoveReason): void {
    this.#movesStarted.inc({ reason });
    // Both outcomes exist from the first move on, so `rate()` and ratios see 0 rather than nothing.
    this.#moves.inc({ reason, outcome: 'done' }, 0);
    this.#moves.inc({ reason, outcome: 'failed' }, 0);
  }

  moveFinished(reason: MoveReason, outcome: MoveOutcome, seconds: number): void {
    this.#moves.inc({ reason, outcome });
    this.#moveDuration.observe({ reason }, seconds);
  }

  shardRestarted(shardId: string): void {
    this.#shardRestarts.inc({ shard_id: shardId });
  }

  reconciled(seconds: number): void {
    this.#reconcileDuration.observe(seconds);
  }

  reconcileFailed(): void {
    this.#reconcileErrors.inc();
  }

  /** The Prometheus text exposition, the gauges read from one fresh snapshot. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.#current = await this.#snapshot();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
