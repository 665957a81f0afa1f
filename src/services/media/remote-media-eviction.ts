/**
 * Evicts other servers' media cached by the tenant (`RemoteMedia`) that nobody was served for
 * `remote_media_lifetime_days` (Synapse: `media_retention.remote_media_lifetime`): the record,
 * the cached bytes and their thumbnails. Evicted media is fetched again from its origin on the
 * next download. A pass runs when the tenant starts and then every few hours, on this tenant's
 * own timer (stopped with the tenant); each item is forgotten in one transaction, and only if it
 * was still unused, so an item served meanwhile stays.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { MediaStore } from '../../storage/media/media-store.js';
import {
  deleteRemoteMediaUnusedSince,
  selectRemoteMediaUnusedSince,
  type RemoteMediaRecord,
} from '../../storage/media/remote-media-records.js';
import { deleteThumbnailsOf, selectThumbnailsOf } from '../../storage/media/thumbnail-records.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { remoteStorageKeyOf } from './remote-media.js';
import { thumbnailStorageKeyOf } from './thumbnail-service.js';

const DAY_MS = 24 * 60 * 60_000;
/** Default `remote_media_lifetime_days`. */
export const DEFAULT_REMOTE_MEDIA_LIFETIME_DAYS = 90;
/** Time between two passes while the tenant runs. */
export const REMOTE_MEDIA_EVICTION_INTERVAL_MS = 4 * 60 * 60_000;
/** Items read per query of a pass. */
const EVICTION_BATCH = 100;

export interface RemoteMediaEvictionDeps {
  db: TenantDatabase;
  store: MediaStore;
  clock: Clock;
  logger: Logger;
  /** Cached media not served for this many days is evicted. */
  lifetimeDays?: number;
  intervalMs?: number;
}

export class RemoteMediaEviction {
  readonly #deps: RemoteMediaEvictionDeps;
  readonly #lifetimeMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(deps: RemoteMediaEvictionDeps) {
    this.#deps = deps;
    this.#lifetimeMs = (deps.lifetimeDays ?? DEFAULT_REMOTE_MEDIA_LIFETIME_DAYS) * DAY_MS;
  }

  /** Runs a pass now, then one every `intervalMs` until `stop()` (the timer is unref'd). */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    void this.run();
    this.#timer = setInterval(
      () => void this.run(),
      this.#deps.intervalMs ?? REMOTE_MEDIA_EVICTION_INTERVAL_MS,
    );
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass under way (it stops after the item it is at). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /**
   * One pass (the timer calls it; tests too); joins a pass already under way. Resolves to the
   * number of items evicted; a failure is logged (the next pass tries again) and counts 0.
   */
  run(): Promise<number> {
    if (this.#running !== undefined) return this.#running;
    const pass = this.#evictUnused()
      .catch((error: unknown) => {
        this.#deps.logger.error({ err: error }, 'remote media eviction failed');
        return 0;
      })
      .finally(() => {
        this.#running = undefined;
      });
    this.#running = pass;
    return pass;
  }

  async #evictUnused(): Promise<number> {
    const { db, clock, logger } = this.#deps;
    const cutoff = clock.now() - this.#lifetimeMs;
    let evicted = 0;
    for (;;) {
      const batch = await db.read((r) => selectRemoteMediaUnusedSince(r, cutoff, EVICTION_BATCH));
      for (const record of batch) {
        if (this.#stopped) break;
        if (await this.#evict(record, cutoff)) evicted += 1;
      }
      if (this.#stopped || batch.length < EVICTION_BATCH) break;
    }
    if (evicted > 0) {
      logger.info(
        { evicted, lifetime_days: this.#lifetimeMs / DAY_MS },
        'evicted cached remote media not served for too long',
      );
    }
    return evicted;
  }

  /** Forgets one item and its thumbnails, then deletes their bytes; false if served meanwhile. */
  async #evict(record: RemoteMediaRecord, cutoff: number): Promise<boolean> {
    const { db, store, logger } = this.#deps;
    const thumbnails = await db.transact(async (trx) => {
      if (!(await deleteRemoteMediaUnusedSince(trx, record.origin, record.mediaId, cutoff))) {
        return undefined;
      }
      const cached = await selectThumbnailsOf(trx, record.cacheId);
      await deleteThumbnailsOf(trx, record.cacheId);
      return cached;
    });
    if (thumbnails === undefined) return false;
    const keys = [
      remoteStorageKeyOf(record.cacheId),
      ...thumbnails.map((thumbnail) => thumbnailStorageKeyOf(record.cacheId, thumbnail)),
    ];
    for (const key of keys) {
      // Nothing refers to these bytes any more: a failed delete only leaves an orphan object.
      await store.delete(key).catch((error: unknown) => {
        logger.warn({ storage_key: key, err: error }, 'cannot delete evicted remote media bytes');
      });
    }
    return true;
  }
}
