import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ControllerEndpoint } from './controller-endpoint.js';
import { OutageLog } from './outage-log.js';
import { parsePlacement, type Placement } from './placement.js';
import type { PlacementSource } from './placement-source.js';

export interface ControllerPlacementSourceOptions {
  readonly logger: Logger;
  /** Finds the controller (again after each failure). */
  readonly endpoint: () => Promise<ControllerEndpoint>;
  /** How long one long-poll may wait at the controller (default 30 s). */
  readonly pollTimeoutMs?: number;
  /** Pause after the first failure, doubled after each next one up to `maxRetryMs`. */
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
}

const PLACEMENT_PATH = '/_marina/controller/v1/placement';

/**
 * Follows the controller's placement with long-polls (`?since=VERSION&timeout=MS&router_id=ID`):
 * the controller answers as soon as the placement moves past the version the router has, or when
 * the timeout ends. While the controller is away the router keeps its last placement and retries
 * with a growing pause; the outage is logged when it starts and when it ends.
 */
export class ControllerPlacementSource implements PlacementSource {
  /**
   * Names this router in each poll (`router_id`): with `since=V` it tells the controller that
   * this router applies version V, so a move waits until every router holds the tenant's requests.
   */
  readonly routerId = randomBytes(8).toString('hex');
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly outages: OutageLog;

  constructor(private readonly options: ControllerPlacementSourceOptions) {
    this.outages = new OutageLog(options.logger);
  }

  start(onPlacement: (placement: Placement) => void): void {
    this.loop ??= this.follow(onPlacement);
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async follow(onPlacement: (placement: Placement) => void): Promise<void> {
    const pollTimeoutMs = this.options.pollTimeoutMs ?? 30_000;
    const firstRetryMs = this.options.firstRetryMs ?? 250;
    let retryMs = firstRetryMs;
    let version: number | undefined;
    // After a failure the controller may be a new process whose versions started again: ask
    // for its current placement (no `since`) and take it whatever its version.
    let resync = true;
    while (!this.stopping.signal.aborted) {
      let url = '(unknown)';
      try {
        const endpoint = await this.options.endpoint();
        url = endpoint.url;
        const since = resync ? undefined : version;
        const placement = await this.fetchPlacement(endpoint, since, pollTimeoutMs);
        this.outages.recovered(
          'controller',
          { controller: url, placement_version: placement.version },
          'controller reachable again',
        );
        retryMs = firstRetryMs;
        if (resync || placement.version !== version) {
          version = placement.version;
          resync = false;
          onPlacement(placement);
        }
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        resync = true;
        this.outages.failed(
          'controller',
          {
            controller: url,
            err: describe(error),
            placement_version: version ?? null,
          },
          version === undefined
            ? 'cannot get the placement from the controller; retrying'
            : 'controller unreachable: routing with the last placement; retrying',
        );
        await sleep(retryMs, undefined, { signal: this.stopping.signal }).catch(() => {});
        retryMs = Math.min(retryMs * 2, this.options.maxRetryMs ?? 5_000);
      }
    }
  }

  private async fetchPlacement(
    endpoint: ControllerEndpoint,
    since: number | undefined,
    pollTimeoutMs: number,
  ): Promise<Placement> {
    const url = new URL(PLACEMENT_PATH, endpoint.url);
    // Without `since`, the current placement at once.
    if (since !== undefined) url.searchParams.set('since', String(since));
    url.searchParams.set('timeout', String(since === undefined ? 0 : pollTimeoutMs));
    url.searchParams.set('router_id', this.routerId);
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${endpoint.token}` },
      // The controller answers by the timeout; a little more covers a slow answer, not a hang.
      signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(pollTimeoutMs + 10_000)]),
    });
    if (!response.ok) {
      const text = (await response.text()).slice(0, 200);
      const hint = response.status === 401 ? ' (wrong admin token?)' : '';
      throw new Error(`placement request answered ${response.status}${hint}: ${text}`);
    }
    return parsePlacement(await response.json());
  }
}

/** An error's message with its cause (fetch says only "fetch failed"; the cause says why). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  const why = cause?.code ?? cause?.message;
  return why ? `${error.message}: ${why}` : error.message;
}
