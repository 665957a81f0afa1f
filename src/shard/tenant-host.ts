/**
 * One tenant as its shard sees it: a homeserver started on its first request and hibernated
 * after it has been idle, plus what must outlive hibernation (config, counters, the in-flight
 * caps). See docs/shard.md for the life cycle.
 *
 *   hibernated ──request──▶ starting ──ok──▶ awake ──idle or hibernate()──▶ hibernating ──▶ hibernated
 *                              └──throws──▶ failed ──request after the retry delay──▶ starting
 *
 * The rules that keep it race-free: a request is counted in flight only while the state is
 * `awake` (checked and counted in the same tick); hibernation stops admitting, ends long-poll
 * waits, waits until nothing is in flight, then stops the homeserver; a request that arrives
 * meanwhile waits for the hibernation to finish and wakes the tenant again.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { MatrixError, limitExceeded } from '../core/errors.js';
import type { FederationStats, Homeserver } from '../homeserver/homeserver.js';
import type { TenantAdmission } from '../http/http-app.js';
import type { TenantConfig } from '../services/tenant-config.js';
import { InFlightLimiter, QueueFullError, type ReleaseSlot } from './in-flight-limiter.js';

/** `hibernating` is reported as `awake` (see `reportedState`): it still holds its resources. */
export type TenantState = 'hibernated' | 'starting' | 'awake' | 'hibernating' | 'failed';
export type ReportedTenantState = Exclude<TenantState, 'hibernating'>;
export const REPORTED_TENANT_STATES: readonly ReportedTenantState[] = [
  'hibernated',
  'starting',
  'awake',
  'failed',
];

export interface TenantLimits {
  /** Ordinary requests running at once (default 32). */
  maxInFlight: number;
  /** Ordinary requests waiting for a slot (default 256); past it → 429 M_LIMIT_EXCEEDED. */
  maxQueued: number;
  /** `/sync` long-polls running or waiting at once (default 1,024), a separate cap. */
  maxLongPolls: number;
  /** Long-polls waiting for a slot (default 256). */
  maxQueuedLongPolls: number;
}

export interface TenantHostOptions {
  /** Starts the tenant's homeserver (the shard's `startHomeserver` with its deps). */
  start: (config: TenantConfig) => Promise<Homeserver>;
  /** The shard's logger; the host logs through a child with `server_name`. */
  logger: Logger;
  /** Times activity and idleness, and the retry delay of a failed tenant. */
  clock: Clock;
  /** Awake with nothing in flight for this long → hibernated (by `hibernateIfIdle`). */
  idleHibernateMs: number;
  /** A failed tenant is tried again on a request this long after it failed. */
  retryFailedAfterMs: number;
  limits: TenantLimits;
}

export interface TenantStatus {
  server_name: string;
  state: ReportedTenantState;
  requests: number;
  last_active_ts: number | null;
  error?: string;
}

/** What the shard knows of one request when it admits it. */
export interface AdmitRequest {
  /** A `/sync` long-poll (see isLongPoll): its own cap, and its wait ends on hibernation. */
  readonly longPoll: boolean;
  /** The client went away: leave the queue. */
  readonly signal?: AbortSignal;
}

export class TenantHost {
  readonly serverName: string;
  readonly #options: TenantHostOptions;
  readonly #logger: Logger;
  #config: TenantConfig;
  /** A replacement config, applied the next time the homeserver is not running. */
  #pendingConfig: TenantConfig | undefined;
  #state: TenantState = 'hibernated';
  #homeserver: Homeserver | undefined;
  #startup: Promise<void> | undefined;
  #hibernation: Promise<void> | undefined;
  #failure: { message: string; at: number } | undefined;
  #removed = false;

  readonly #ordinary: InFlightLimiter;
  readonly #longPolls: InFlightLimiter;
  /** Requests admitted and not yet released (long-polls included). */
  #active = 0;
  readonly #onDrained: (() => void)[] = [];
  /** Ends the waits of admitted long-polls. */
  readonly #waits = new Set<AbortController>();

  #requests = 0;
  #lastActive: number | null = null;

  constructor(config: TenantConfig, options: TenantHostOptions) {
    this.serverName = config.server_name;
    this.#config = config;
    this.#options = options;
    this.#logger = options.logger.child({ server_name: config.server_name });
    const { limits } = options;
    // The limiters time how long requests hold their slots with the host's clock.
    const now = () => options.clock.now();
    this.#ordinary = new InFlightLimiter(limits.maxInFlight, limits.maxQueued, now);
    this.#longPolls = new InFlightLimiter(limits.maxLongPolls, limits.maxQueuedLongPolls, now);
  }

  /** The config the next start uses. */
  get config(): TenantConfig {
    return this.#pendingConfig ?? this.#config;
  }

  get state(): TenantState {
    return this.#state;
  }

  get reportedState(): ReportedTenantState {
    return this.#state === 'hibernating' ? 'awake' : this.#state;
  }

  /** Requests admitted and not yet finished. */
  get inFlight(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#ordinary.queued + this.#longPolls.queued;
  }

  /** The running homeserver's federation counters; undefined while none runs (hibernated). */
  federationStats(): FederationStats | undefined {
    return this.#homeserver?.federationStats();
  }

  status(): TenantStatus {
    return {
      server_name: this.serverName,
      state: this.reportedState,
      requests: this.#requests,
      last_active_ts: this.#lastActive,
      ...(this.#state === 'failed' && this.#failure ? { error: this.#failure.message } : {}),
    };
  }

  /**
   * Admits one request: waits for a slot (FIFO; 429 when the queue is full), wakes the tenant if
   * needed (waiting for a hibernation in progress, sharing a start in progress), and returns its
   * context with `release`, which the caller must call when the request is done. A failed tenant
   * → 503 M_UNKNOWN; a removed one → 404 M_NOT_FOUND.
   */
  async admit(request: AdmitRequest): Promise<TenantAdmission> {
    this.#requests += 1;
    this.#touch();
    if (this.#removed) throw notServed(this.serverName);
    const limiter = request.longPoll ? this.#longPolls : this.#ordinary;
    let releaseSlot: ReleaseSlot;
    try {
      releaseSlot = await limiter.acquire(request.signal);
    } catch (error) {
      throw this.#admissionError(error);
    }
    let homeserver: Homeserver;
    try {
      for (;;) {
        homeserver = await this.#awake();
        // Re-checked after the await: a hibernation may have begun in between.
        if (this.#state === 'awake' && this.#homeserver === homeserver) break;
      }
    } catch (error) {
      releaseSlot();
      throw error;
    }
    this.#active += 1;
    const ends = request.longPoll ? new AbortController() : undefined;
    if (ends) this.#waits.add(ends);
    let released = false;
    return {
      context: homeserver.context,
      signal: ends?.signal,
      release: () => {
        if (released) return;
        released = true;
        releaseSlot();
        if (ends) this.#waits.delete(ends);
        this.#active -= 1;
        this.#touch();
        if (this.#active === 0) for (const resolve of this.#onDrained.splice(0)) resolve();
      },
    };
  }

  /**
   * Hibernates now: stops admitting, ends long-poll waits, waits for the requests in flight,
   * then stops the homeserver (database handles closed, caches dropped). Resolves once it is
   * hibernated (at once when it is not running; after the start when it is starting).
   */
  hibernate(): Promise<void> {
    switch (this.#state) {
      case 'hibernating':
        return this.#hibernation as Promise<void>;
      case 'starting':
        return (this.#startup as Promise<void>).then(() => this.hibernate());
      case 'hibernated':
      case 'failed':
        this.#applyPendingConfig();
        return Promise.resolve();
      case 'awake':
        break;
    }
    this.#state = 'hibernating';
    const homeserver = this.#homeserver as Homeserver;
    this.#hibernation = (async () => {
      for (const wait of this.#waits) wait.abort();
      if (this.#active > 0) await new Promise<void>((resolve) => this.#onDrained.push(resolve));
      try {
        await homeserver.stop();
      } catch (error) {
        this.#logger.error({ err: error }, 'homeserver failed to stop cleanly while hibernating');
      }
      this.#homeserver = undefined;
      this.#applyPendingConfig();
      this.#state = 'hibernated';
      this.#logger.info('tenant hibernated');
    })();
    return this.#hibernation;
  }

  /** Hibernates if awake with nothing in flight for `idleHibernateMs`; says whether it began. */
  hibernateIfIdle(): boolean {
    if (this.#state !== 'awake' || this.#active > 0) return false;
    const idleFor = this.#options.clock.now() - (this.#lastActive ?? 0);
    if (idleFor < this.#options.idleHibernateMs) return false;
    // Idle for clients, but still sending to other servers: not yet.
    if (this.#homeserver?.busy() === true) return false;
    void this.hibernate();
    return true;
  }

  /**
   * Takes a new config (same server_name): a running homeserver is hibernated first, so the
   * next request starts it with the new one; a failed tenant is tried again at once.
   */
  async reconfigure(config: TenantConfig): Promise<void> {
    if (config.server_name !== this.serverName) {
      throw new Error(`config of ${config.server_name} given to tenant ${this.serverName}`);
    }
    if (sameConfig(config, this.config)) return;
    this.#pendingConfig = config;
    await this.hibernate();
  }

  /**
   * The tenant is no longer served here: refuses waiting and new requests (404), then
   * hibernates (its data stays where it is).
   */
  async retire(): Promise<void> {
    this.#removed = true;
    const gone = notServed(this.serverName);
    this.#ordinary.refuseQueued(gone);
    this.#longPolls.refuseQueued(gone);
    await this.hibernate();
  }

  /** The running homeserver, starting it when needed; throws for a failed or removed tenant. */
  async #awake(): Promise<Homeserver> {
    for (;;) {
      if (this.#removed) throw notServed(this.serverName);
      switch (this.#state) {
        case 'awake':
          return this.#homeserver as Homeserver;
        case 'hibernating':
          await this.#hibernation;
          break;
        case 'starting':
          await this.#startup;
          // Requests that shared a start that failed get its answer, not a start of their own.
          if (this.state === 'failed') throw unavailable(this.serverName);
          break;
        case 'failed': {
          const failure = this.#failure as { at: number };
          const retryAt = failure.at + this.#options.retryFailedAfterMs;
          if (this.#options.clock.now() < retryAt) throw unavailable(this.serverName);
          this.#beginStart();
          break;
        }
        case 'hibernated':
          this.#beginStart();
          break;
      }
    }
  }

  #beginStart(): void {
    this.#applyPendingConfig();
    this.#state = 'starting';
    const config = this.#config;
    const began = performance.now();
    this.#startup = (async () => {
      try {
        this.#homeserver = await this.#options.start(config);
        this.#state = 'awake';
        this.#failure = undefined;
        this.#touch();
        this.#logger.info({ start_ms: Math.round(performance.now() - began) }, 'tenant woke');
      } catch (error) {
        this.#state = 'failed';
        const message = error instanceof Error ? error.message : String(error);
        this.#failure = { message, at: this.#options.clock.now() };
        this.#logger.error(
          { err: error, retry_after_ms: this.#options.retryFailedAfterMs },
          'homeserver failed to start; its requests get 503 until a later request starts it',
        );
      }
    })();
  }

  #applyPendingConfig(): void {
    if (this.#pendingConfig === undefined) return;
    this.#config = this.#pendingConfig;
    this.#pendingConfig = undefined;
    if (this.#state === 'failed') {
      this.#state = 'hibernated';
      this.#failure = undefined;
    }
  }

  #admissionError(error: unknown): unknown {
    if (error instanceof QueueFullError) {
      // When to ask again comes from the queue's state (see suggestedRetryAfterMs).
      return limitExceeded(error.retryAfterMs, `Too many requests for ${this.serverName}`);
    }
    if (error instanceof MatrixError) return error;
    // The client left while its request waited for a slot; nobody reads this answer.
    return new MatrixError('M_UNKNOWN', 'The client closed the request', { status: 499 });
  }

  #touch(): void {
    this.#lastActive = this.#options.clock.now();
  }
}

function sameConfig(a: TenantConfig, b: TenantConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Marks an answer to a request the shard did not serve at all because its tenant is not (or no
 * longer) here: nothing of it ran, so the router may send it again to the tenant's new shard
 * (src/router/proxy.ts; the router never passes the header on to clients).
 */
export const NOT_SERVED_HEADER = 'X-Marina-Not-Served';

/** The answer for a host whose tenant is not (or no longer) served here. */
export function notServed(hostname: string): MatrixError {
  return new MatrixError('M_NOT_FOUND', `No homeserver is served at host ${hostname}`, {
    status: 404,
    headers: { [NOT_SERVED_HEADER]: '1' },
  });
}

function unavailable(serverName: string): MatrixError {
  return new MatrixError(
    'M_UNKNOWN',
    `The homeserver ${serverName} is unavailable: it failed to start`,
    { status: 503 },
  );
}
