/**
 * Which placement version each router has applied. A router asks for the placement with
 * `since=V` only once it routes by version V, so its long-poll is its acknowledgement. A move
 * waits for every router seen lately to acknowledge the version that holds the tenant's
 * requests before the old shard lets the tenant go: from then on no router sends it new work
 * there. Belongs to one controller.
 */

/** A router that has not asked for this long is taken for gone (polls last 30 s at most). */
const ROUTER_GONE_AFTER_MS = 45_000;

interface RouterSeen {
  applied: number;
  lastSeen: number;
  /** Long-polls of this router open now (its last ask may be waiting still). */
  open: number;
}

export class RouterAcks {
  private readonly routers = new Map<string, RouterSeen>();
  private readonly waiters = new Set<() => void>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A router asked with `since` (the version it routes by); returns when its ask ends. */
  asked(routerId: string, since: number | undefined): () => void {
    const seen = this.routers.get(routerId) ?? { applied: 0, lastSeen: 0, open: 0 };
    seen.applied = Math.max(seen.applied, since ?? 0);
    seen.lastSeen = this.now();
    seen.open += 1;
    this.routers.set(routerId, seen);
    for (const wake of [...this.waiters]) wake();
    return () => {
      seen.open -= 1;
      seen.lastSeen = this.now();
    };
  }

  /** How many routers count now. */
  get liveRouters(): number {
    return this.live().length;
  }

  /**
   * Resolves true once every live router has applied `version`, false after `timeoutMs` (a
   * router that died without a word; the shard's Not-Served answers cover its stray requests).
   */
  async waitFor(version: number, timeoutMs: number): Promise<boolean> {
    if (this.behind(version) === 0) return true;
    return new Promise<boolean>((resolve) => {
      const finish = (acknowledged: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(acknowledged);
      };
      const wake = () => {
        if (this.behind(version) === 0) finish(true);
      };
      const timer = setTimeout(() => finish(this.behind(version) === 0), timeoutMs);
      this.waiters.add(wake);
    });
  }

  private behind(version: number): number {
    return this.live().filter((seen) => seen.applied < version).length;
  }

  private live(): RouterSeen[] {
    const cutoff = this.now() - ROUTER_GONE_AFTER_MS;
    for (const [id, seen] of this.routers) {
      if (seen.open === 0 && seen.lastSeen < cutoff) this.routers.delete(id);
    }
    return [...this.routers.values()];
  }
}
