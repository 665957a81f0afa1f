import type { Logger } from 'pino';

/**
 * Subscribers to one kind of change in a tenant's service (a profile changed, devices were
 * deleted, …). Owned by the service instance, so they go away with the tenant. Listeners run
 * after the change is committed, one after another; a failing listener is logged and does not
 * undo the change or stop the others.
 */
export class Listeners<T> {
  readonly #listeners = new Set<(change: T) => void | Promise<void>>();

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  /** Subscribes; returns the function that unsubscribes. */
  add(listener: (change: T) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async emit(change: T): Promise<void> {
    for (const listener of [...this.#listeners]) {
      try {
        await listener(change);
      } catch (error) {
        this.logger.error({ err: error, change: this.what }, 'change listener failed');
      }
    }
  }
}
