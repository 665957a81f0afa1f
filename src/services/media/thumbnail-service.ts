/**
 * Thumbnails of the tenant's media (spec: "Thumbnails"), made on request and cached: the bytes
 * in the tenant's media store beside the original, a `media_thumbnails` row per size, method and
 * animation (an animated and a still thumbnail of one size are two).
 * Generation is bounded per tenant (a semaphore: two at a time, so one tenant cannot take all of
 * libvips' threads) and guarded against large sources (bytes and pixels). Two requests for the
 * same missing thumbnail share one generation.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { MatrixError, tooLarge } from '../../core/errors.js';
import { Semaphore } from '../../core/semaphore.js';
import type { MediaStore } from '../../storage/media/media-store.js';
import {
  selectThumbnail,
  upsertThumbnail,
  type ThumbnailKey,
  type ThumbnailMethod,
} from '../../storage/media/thumbnail-records.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import {
  storageKeyOf,
  type MediaRepository,
  type MediaSource,
  type OpenedMedia,
} from './media-repository.js';
import {
  ANIMATABLE_TYPES,
  THUMBNAILABLE_TYPES,
  ThumbnailRenderError,
  renderThumbnail,
} from './thumbnail-image.js';
import { thumbnailSpecFor } from './thumbnail-size.js';

/** Largest source that is thumbnailed, in bytes (larger: 413 M_TOO_LARGE). */
export const DEFAULT_MAX_THUMBNAIL_SOURCE_BYTES = 20 * 1024 * 1024;
/** Largest source that is thumbnailed, in pixels (Synapse's `max_image_pixels`). */
export const DEFAULT_MAX_THUMBNAIL_SOURCE_PIXELS = 32_000_000;
/** Thumbnails generated at once per tenant. */
export const THUMBNAIL_CONCURRENCY = 2;

export interface ThumbnailSettings {
  maxSourceBytes: number;
  maxSourcePixels: number;
}

export interface ThumbnailRequest {
  serverName: string;
  mediaId: string;
  width: number;
  height: number;
  method: ThumbnailMethod;
  animated: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The deprecated unauthenticated endpoint: frozen media is hidden (as for downloads). */
  unauthenticated: boolean;
}

export interface ThumbnailServiceDeps {
  db: TenantDatabase;
  store: MediaStore;
  media: MediaRepository;
  clock: Clock;
  logger: Logger;
  settings?: Partial<ThumbnailSettings>;
}

export class ThumbnailService {
  private readonly db: TenantDatabase;
  private readonly store: MediaStore;
  private readonly media: MediaRepository;
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly settings: ThumbnailSettings;
  private readonly generations = new Semaphore(THUMBNAIL_CONCURRENCY);
  /** Generations under way, by cache key: a second request for one waits for it. */
  private readonly inFlight = new Map<string, Promise<Generated>>();

  constructor(deps: ThumbnailServiceDeps) {
    this.db = deps.db;
    this.store = deps.store;
    this.media = deps.media;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.settings = {
      maxSourceBytes: deps.settings?.maxSourceBytes ?? DEFAULT_MAX_THUMBNAIL_SOURCE_BYTES,
      maxSourcePixels: deps.settings?.maxSourcePixels ?? DEFAULT_MAX_THUMBNAIL_SOURCE_PIXELS,
    };
  }

  /** Generations running and waiting for their turn (for metrics and tests). */
  get generationLoad(): { running: number; waiting: number } {
    return { running: this.generations.held, waiting: this.generations.waiting };
  }

  /**
   * A thumbnail to serve: from the cache, else generated (and cached), or the original when it
   * is no larger than asked. Media that cannot be thumbnailed: 400 M_UNKNOWN; too large: 413
   * M_TOO_LARGE; the download's errors otherwise (404, 504 M_NOT_YET_UPLOADED).
   */
  async thumbnail(request: ThumbnailRequest): Promise<OpenedMedia> {
    // Local media, or another server's fetched and cached here (thumbnailed here too).
    const source = await this.media.source(request.serverName, request.mediaId, request);
    const sourceType = mediaTypeOf(source.contentType);
    if (!THUMBNAILABLE_TYPES.has(sourceType)) throw cannotThumbnail();
    if (source.size > this.settings.maxSourceBytes) throw contentTooLarge();

    // `animated` only matters for types that can be animated (a JPEG is thumbnailed as one).
    const key: ThumbnailKey = {
      ...thumbnailSpecFor(request.width, request.height, request.method),
      animated: request.animated && ANIMATABLE_TYPES.has(sourceType),
    };
    const cached = await this.cached(source.thumbnailId, key);
    if (cached !== undefined) return cached;

    // The request's own size (and `animated`, in the key) decide whether the original is served.
    const flightKey = [
      source.thumbnailId,
      thumbnailKeyName(key),
      request.width,
      request.height,
    ].join('/');
    let generation = this.inFlight.get(flightKey);
    if (generation === undefined) {
      generation = this.generations.run(() => this.generate(request, key, sourceType, source));
      this.inFlight.set(flightKey, generation);
      const started = generation;
      void started.then(
        () => this.inFlight.delete(flightKey),
        () => this.inFlight.delete(flightKey),
      );
    }
    const made = await generation;
    // Each caller its own stream of the same bytes.
    return {
      contentType: made.contentType,
      uploadName: made.uploadName,
      size: made.data.length,
      body: Readable.from([made.data]),
    };
  }

  private async cached(mediaId: string, key: ThumbnailKey): Promise<OpenedMedia | undefined> {
    const row = await this.db.read((db) => selectThumbnail(db, mediaId, key));
    if (row === undefined) return undefined;
    const object = await this.store.get(thumbnailStorageKeyOf(mediaId, key));
    if (object === undefined) {
      this.logger.warn(
        { media_id: mediaId, thumbnail: thumbnailKeyName(key) },
        'cached thumbnail missing from the media store: generating it again',
      );
      return undefined;
    }
    return { contentType: row.contentType, uploadName: null, size: object.size, body: object.body };
  }

  private async generate(
    request: ThumbnailRequest,
    key: ThumbnailKey,
    sourceType: string,
    media: MediaSource,
  ): Promise<Generated> {
    const source = await this.readSource(media.storageKey);
    let rendered;
    try {
      rendered = await renderThumbnail(source, sourceType, key, {
        requested: { width: request.width, height: request.height },
        animated: key.animated,
        maxPixels: this.settings.maxSourcePixels,
      });
    } catch (error) {
      if (!(error instanceof ThumbnailRenderError)) throw error;
      this.logger.info({ media_id: request.mediaId, reason: error.message }, 'no thumbnail');
      throw error.reason === 'too_many_pixels' ? contentTooLarge() : cannotThumbnail();
    }
    if (rendered.kind === 'original') {
      return { data: source, contentType: sourceType, uploadName: media.uploadName };
    }
    await this.store.put(
      thumbnailStorageKeyOf(media.thumbnailId, key),
      Readable.from([rendered.data]),
      {
        contentType: rendered.contentType,
      },
    );
    await this.db.transact((trx) =>
      upsertThumbnail(trx, {
        mediaId: media.thumbnailId,
        ...key,
        contentType: rendered.contentType,
        size: rendered.data.length,
        createdTs: this.clock.now(),
      }),
    );
    return { data: rendered.data, contentType: rendered.contentType, uploadName: null };
  }

  /** The original's bytes, at most `maxSourceBytes` of them (the record's size was checked). */
  private async readSource(storageKey: string): Promise<Buffer> {
    const object = await this.store.get(storageKey);
    if (object === undefined) {
      this.logger.error(
        { storage_key: storageKey },
        'media is recorded but missing from the media store',
      );
      throw new MatrixError('M_NOT_FOUND', 'Unknown media');
    }
    if (object.size > this.settings.maxSourceBytes) {
      object.body.destroy();
      throw contentTooLarge();
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of object.body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > this.settings.maxSourceBytes) {
        object.body.destroy();
        throw contentTooLarge();
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, length);
  }
}

/**
 * Where a thumbnail's bytes are kept: under `thumbnail/` and the media ID (for another server's
 * media: its cache ID, random like media IDs).
 */
export function thumbnailStorageKeyOf(mediaId: string, key: ThumbnailKey): string {
  const original = storageKeyOf(mediaId).slice('local/'.length);
  return `thumbnail/${original}/${thumbnailKeyName(key)}`;
}

/** `96-96-crop`, `320-240-scale-animated`. */
function thumbnailKeyName(key: ThumbnailKey): string {
  return `${key.width}-${key.height}-${key.method}${key.animated ? '-animated' : ''}`;
}

/** `image/png; charset=…` → `image/png`. */
function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** What a generation made: a thumbnail, or the original's bytes. */
interface Generated {
  data: Buffer;
  contentType: string;
  uploadName: string | null;
}

function cannotThumbnail(): MatrixError {
  return new MatrixError('M_UNKNOWN', 'Cannot generate thumbnails for the requested content', {
    status: 400,
  });
}

function contentTooLarge(): MatrixError {
  return tooLarge('Content is too large to thumbnail');
}
