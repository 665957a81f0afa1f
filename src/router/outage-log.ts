import type { Logger } from 'pino';

/**
 * Logs an outage once when it starts and once when it ends, however many attempts fail in
 * between: a controller or shard that is down for a minute must not flood the log.
 */
export class OutageLog {
  /** Start time of each ongoing outage, by what is out (a URL, a shard). */
  private readonly since = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** Records a failure; logs it (warn) only when it starts an outage. */
  failed(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.since.has(key)) return;
    this.since.set(key, Date.now());
    this.logger.warn(fields, message);
  }

  /** Records a success; logs the end of the outage (info) if there was one. */
  recovered(key: string, fields: Record<string, unknown>, message: string): void {
    const since = this.since.get(key);
    if (since === undefined) return;
    this.since.delete(key);
    this.logger.info({ ...fields, outage_ms: Date.now() - since }, message);
  }

  /** Forgets outages of things no longer in use (e.g. shards gone from the placement). */
  keepOnly(keys: ReadonlySet<string>): void {
    for (const key of this.since.keys()) if (!keys.has(key)) this.since.delete(key);
  }
}
