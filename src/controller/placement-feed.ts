/**
 * Wakes the `/placement` long-polls: each waits for the placement version to move past the one
 * its caller has, for a timeout, or for the caller to go away. Belongs to one controller.
 */
export class PlacementFeed {
  private version: number;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(initialVersion: number) {
    this.version = initialVersion;
  }

  get current(): number {
    return this.version;
  }

  /** Records a new version and wakes every waiter. */
  publish(version: number): void {
    this.version = Math.max(this.version, version);
    this.wakeAll();
  }

  /**
   * Resolves when the version differs from `since` (at once if it already does: a restarted
   * controller may be behind a router's number only if its registry was replaced), when
   * `timeoutMs` has passed, when `signal` aborts, or when the feed closes.
   */
  async waitForChange(since: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || this.version !== since || timeoutMs <= 0 || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(wake);
        resolve();
      };
      const wake = () => {
        if (this.closed || this.version !== since) done();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(wake);
    });
  }

  /** Ends every long-poll now (the controller is stopping). */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
