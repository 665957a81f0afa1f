/**
 * The order in which a shard starts its tenants' requests: tenants take turns (round robin),
 * one request per turn of the event loop.
 *
 * Why: on SQLite (better-sqlite3 is synchronous) a request usually runs from its start to its
 * answer without giving the event loop back, so the per-tenant in-flight cap rarely sees more
 * than one request at a time, and requests simply run in the order their sockets became
 * readable. A tenant with 64 requests pending then makes a neighbour's request wait behind all
 * 64 (bench/fairness.bench.ts: a quiet tenant's p50 went from 2 ms alone to ~150 ms beside such
 * a flood). Here each request, once admitted within its tenant's cap, waits for its turn:
 * turns are given from `setImmediate`, so the event loop reads every request that has arrived
 * (its poll phase) before the next one starts, and a request waits for at most one request of
 * each other busy tenant. The tenant's cap bounds how many of its requests wait here; past its
 * queue they get 429. When nobody waits, the first request of a turn starts at once (no added
 * latency on an uncontended shard), and its tenant then goes to the back of the line.
 */
import { MatrixError } from '../core/errors.js';

interface Waiter {
  start(): void;
}

export class TenantTurns<Tenant> {
  /** Tenants with requests waiting, in turn order (a Map iterates in insertion order). */
  readonly #waiting = new Map<Tenant, Set<Waiter>>();
  #scheduled = false;
  /** A request started without waiting during this turn of the event loop. */
  #startedThisTurn = false;
  /** The tenant whose request started last (it goes to the back of the line). */
  #lastStarted: Tenant | undefined;

  /** Requests waiting for their turn, all tenants together. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.size;
    return count;
  }

  /**
   * Resolves when it is this request's turn to start. Rejects (499) when `signal` aborts
   * first: the client went away, and the request leaves the line.
   */
  take(tenant: Tenant, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(clientGone());
    // Nobody waiting: the first request of an event-loop turn starts at once, so an
    // uncontended shard adds no latency; the others of the same turn wait in line.
    if (this.#waiting.size === 0 && !this.#scheduled && !this.#startedThisTurn) {
      this.#startedThisTurn = true;
      this.#lastStarted = tenant;
      setImmediate(() => {
        this.#startedThisTurn = false;
      });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      let queue = this.#waiting.get(tenant);
      if (queue === undefined) {
        queue = new Set();
        this.#waiting.set(tenant, queue);
      }
      const line = queue;
      const onAbort = () => {
        line.delete(waiter);
        if (line.size === 0 && this.#waiting.get(tenant) === line) this.#waiting.delete(tenant);
        reject(clientGone());
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      line.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // An immediate scheduled while immediates run waits for the next loop turn, after the
    // poll phase has read what arrived meanwhile.
    setImmediate(() => this.#startNext());
  }

  #startNext(): void {
    this.#scheduled = false;
    let first = this.#waiting.entries().next();
    if (first.done) return;
    // The tenant that just started a request (at once, see `take`) waits for the others.
    if (first.value[0] === this.#lastStarted && this.#waiting.size > 1) {
      this.#waiting.delete(first.value[0]);
      this.#waiting.set(first.value[0], first.value[1]);
      first = this.#waiting.entries().next();
      if (first.done) return;
    }
    const [tenant, queue] = first.value;
    this.#lastStarted = tenant;
    const waiter = queue.values().next().value as Waiter;
    queue.delete(waiter);
    // The tenant goes to the back of the line (or leaves it).
    this.#waiting.delete(tenant);
    if (queue.size > 0) this.#waiting.set(tenant, queue);
    waiter.start();
    if (this.#waiting.size > 0) this.#schedule();
  }
}

function clientGone(): MatrixError {
  return new MatrixError('M_UNKNOWN', 'The client closed the request', { status: 499 });
}
