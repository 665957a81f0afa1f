/**
 * Requests waiting for the next placement: those held while their tenant moves, and those to
 * replay once a shard said it no longer serves their tenant. One list, emptied at each change,
 * so thousands of held requests cost one entry each (no listener each on a shared emitter); a
 * request that stops waiting (deadline, client gone) leaves the list at once.
 */

/** Why a wait ended: a new placement, the deadline, the client gone, or the router stopping. */
export type WaitOutcome = 'changed' | 'timeout' | 'gone' | 'closed';

export class PlacementWaiters {
  readonly #waiting = new Set<(outcome: WaitOutcome) => void>();
  #closed = false;

  /** Requests waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Waits for the next `changed()`, until `deadline` (a `performance.now()` time) at most. */
  next(deadline: number, signal: AbortSignal): Promise<WaitOutcome> {
    if (this.#closed) return Promise.resolve('closed');
    if (signal.aborted) return Promise.resolve('gone');
    return new Promise((resolve) => {
      const finish = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiting.delete(finish);
        resolve(outcome);
      };
      const onAbort = () => finish('gone');
      const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - performance.now()));
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(finish);
    });
  }

  /** A new placement is in use: every waiting request looks again. */
  changed(): void {
    this.#end('changed');
  }

  /** The router is stopping: waits end now, and new ones at once. */
  close(): void {
    this.#closed = true;
    this.#end('closed');
  }

  #end(outcome: WaitOutcome): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const finish of waiting) finish(outcome);
  }
}
