/**
 * Caps how many requests of one tenant run at once. The rest wait in a FIFO queue of bounded
 * length; past it a request is refused at once. Each tenant has its own, so a tenant flooding
 * the shard mostly waits behind itself while the others keep their turn on the event loop.
 */

import { suggestedRetryAfterMs } from './retry-after.js';

/** Gives the slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

/** The queue is full: the caller should answer "too many requests". */
export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    /** When to ask again, from the queue's state (see suggestedRetryAfterMs). */
    readonly retryAfterMs: number,
  ) {
    super(`too many requests waiting (${queued} queued)`);
    this.name = 'QueueFullError';
  }
}

interface Waiter {
  grant(release: ReleaseSlot): void;
  refuse(error: unknown): void;
}

/** Weight of the latest hold time in the running mean (about the last ten requests count). */
const HOLD_SMOOTHING = 0.2;

export class InFlightLimiter {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  #inFlight = 0;
  readonly #queue = new Set<Waiter>();
  readonly #now: () => number;
  /** Exponentially weighted mean of how long a request holds its slot, in ms. */
  #meanHoldMs: number | undefined;

  /** `now` (ms) times how long slots are held (tests pass a manual clock). */
  constructor(maxInFlight: number, maxQueued: number, now: () => number = () => performance.now()) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, not ${maxInFlight}`);
    }
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new RangeError(`maxQueued must be a non-negative integer, not ${maxQueued}`);
    }
    this.maxInFlight = maxInFlight;
    this.maxQueued = maxQueued;
    this.#now = now;
  }

  /** Recent mean time a request holds its slot (undefined until one has been released). */
  get meanHoldMs(): number | undefined {
    return this.#meanHoldMs;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Resolves with the slot's release once one is free (at once when one is). Throws
   * QueueFullError when the queue is full; rejects with the signal's reason when it aborts
   * while the request waits (the waiter leaves the queue).
   */
  acquire(signal?: AbortSignal): Promise<ReleaseSlot> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inFlight < this.maxInFlight) {
      this.#inFlight += 1;
      return Promise.resolve(this.#slot());
    }
    if (this.#queue.size >= this.maxQueued) {
      const retryAfterMs = suggestedRetryAfterMs({
        queued: this.queued,
        slots: this.maxInFlight,
        meanHoldMs: this.#meanHoldMs,
      });
      return Promise.reject(new QueueFullError(this.queued, retryAfterMs));
    }
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const onAbort = () => {
        this.#queue.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        refuse: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // A Set iterates in insertion order: the first waiter is the oldest.
      this.#queue.add(waiter);
    });
  }

  /** Refuses every waiting request with `error` (the tenant is going away). */
  refuseQueued(error: unknown): void {
    const waiters = [...this.#queue];
    this.#queue.clear();
    for (const waiter of waiters) waiter.refuse(error);
  }

  #slot(): ReleaseSlot {
    let released = false;
    const grantedAt = this.#now();
    return () => {
      if (released) return;
      released = true;
      this.#noteHold(this.#now() - grantedAt);
      const next = this.#queue.values().next();
      if (next.done) {
        this.#inFlight -= 1;
        return;
      }
      // The slot passes straight to the oldest waiter: nobody can jump the queue.
      this.#queue.delete(next.value);
      next.value.grant(this.#slot());
    };
  }

  #noteHold(ms: number): void {
    this.#meanHoldMs =
      this.#meanHoldMs === undefined
        ? ms
        : this.#meanHoldMs + HOLD_SMOOTHING * (ms - this.#meanHoldMs);
  }
}
