/**
 * URL previews of one tenant (spec: `GET /_matrix/client/v1/media/preview_url`): the OpenGraph
 * data of a web page, or of an image, with the image stored in the tenant's media as an upload by
 * the user who asked. Fetches go through `fetchForPreview` (SSRF guard, size limit) under one
 * deadline per preview; previews are cached per tenant (bounded, one hour) and at most two are
 * made at a time per tenant, so one tenant cannot flood the network or the others.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { MatrixError, invalidParam, unrecognized } from '../../core/errors.js';
import { Semaphore } from '../../core/semaphore.js';
import type { MediaRepository } from './media-repository.js';
import { IpAddressPolicy } from '../../core/ip-address-policy.js';
import {
  DEFAULT_PREVIEW_MAX_BYTES,
  PreviewFetchAborted,
  fetchForPreview,
  parsePreviewUrl,
  type FetchedResource,
} from './url-preview-fetch.js';
import { decodeHtml, openGraphOf } from './url-preview-html.js';

/** Time one preview may take, redirects and its image included. */
export const DEFAULT_PREVIEW_TIMEOUT_MS = 10_000;
/** Previews made at once per tenant. */
export const PREVIEW_CONCURRENCY = 2;
/** Cached previews per tenant, and how long one is reused. */
export const PREVIEW_CACHE_ENTRIES = 256;
export const PREVIEW_CACHE_TTL_MS = 60 * 60 * 1000;

export type UrlPreview = Record<string, string | number>;

export interface UrlPreviewSettings {
  enabled: boolean;
  /** CIDR ranges previews may reach although private, loopback or link-local. */
  ipAllowlist: readonly string[];
  maxBytes: number;
  timeoutMs: number;
}

export interface UrlPreviewDeps {
  media: MediaRepository;
  clock: Clock;
  logger: Logger;
  settings: Partial<UrlPreviewSettings>;
  /** Resolves host names (default: the system resolver). */
  resolve?: (hostname: string) => Promise<string[]>;
}

interface CachedPreview {
  preview: UrlPreview;
  expiresTs: number;
}

function isHtml(mediaType: string): boolean {
  return mediaType === 'text/html' || mediaType === 'application/xhtml+xml';
}

function isImage(mediaType: string): boolean {
  return mediaType.startsWith('image/');
}

/** The last segment of the URL's path, as the stored image's upload name. */
function fileNameOf(url: URL): string | undefined {
  const segment = url.pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(segment) || undefined;
  } catch {
    return segment || undefined;
  }
}

export class UrlPreviews {
  readonly settings: UrlPreviewSettings;
  private readonly media: MediaRepository;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly policy: IpAddressPolicy;
  private readonly resolve: ((hostname: string) => Promise<string[]>) | undefined;
  private readonly previews = new Semaphore(PREVIEW_CONCURRENCY);
  /** By URL, least recently used first (a `Map` keeps insertion order). */
  private readonly cache = new Map<string, CachedPreview>();
  /** Previews being made, by URL: a second request for one waits for it. */
  private readonly inFlight = new Map<string, Promise<UrlPreview>>();
  /** Aborts every fetch when the tenant stops. */
  private readonly stopping = new AbortController();

  constructor(deps: UrlPreviewDeps) {
    this.settings = {
      enabled: deps.settings.enabled ?? false,
      ipAllowlist: deps.settings.ipAllowlist ?? [],
      maxBytes: deps.settings.maxBytes ?? DEFAULT_PREVIEW_MAX_BYTES,
      timeoutMs: deps.settings.timeoutMs ?? DEFAULT_PREVIEW_TIMEOUT_MS,
    };
    this.media = deps.media;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.resolve = deps.resolve;
    this.policy = new IpAddressPolicy(this.settings.ipAllowlist);
  }

  /**
   * The preview of `urlText` for `userId`. Disabled: 404 M_UNRECOGNIZED (as Synapse, whose
   * endpoint then does not exist); not an http(s) URL: 400 M_INVALID_PARAM; other errors as
   * `fetchForPreview` says, and 504 M_UNKNOWN when the deadline passes.
   */
  async preview(userId: string, urlText: string): Promise<UrlPreview> {
    if (!this.settings.enabled) throw unrecognized('URL previews are disabled on this server');
    const url = parsePreviewUrl(urlText);
    if (url === undefined) throw invalidParam('url must be an absolute http or https URL');
    const key = url.href;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key);
      if (cached.expiresTs > this.clock.now()) {
        this.cache.set(key, cached);
        return cached.preview;
      }
    }
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const making = this.previews
      .run(() => this.make(userId, url))
      .finally(() => {
        this.inFlight.delete(key);
      });
    this.inFlight.set(key, making);
    const preview = await making;
    this.remember(key, preview);
    return preview;
  }

  /** Aborts the fetches under way (the tenant is stopping). */
  stop(): void {
    this.stopping.abort();
  }

  private remember(key: string, preview: UrlPreview): void {
    this.cache.delete(key);
    this.cache.set(key, { preview, expiresTs: this.clock.now() + PREVIEW_CACHE_TTL_MS });
    while (this.cache.size > PREVIEW_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  private async make(userId: string, url: URL): Promise<UrlPreview> {
    const deadline = AbortSignal.any([
      AbortSignal.timeout(this.settings.timeoutMs),
      this.stopping.signal,
    ]);
    try {
      const page = await this.fetch(url, deadline);
      if (page.body !== undefined && isImage(page.mediaType)) {
        return (await this.storeImage(userId, page)) ?? {};
      }
      if (page.body === undefined || !isHtml(page.mediaType)) return {};
      const og: UrlPreview = openGraphOf(decodeHtml(page.body, page.charset), page.url);
      const imageUrl = og['og:image'];
      if (typeof imageUrl === 'string') {
        delete og['og:image'];
        Object.assign(og, await this.previewImage(userId, imageUrl, deadline));
      }
      return og;
    } catch (error) {
      if (error instanceof PreviewFetchAborted) {
        throw new MatrixError('M_UNKNOWN', 'Timed out fetching the URL', { status: 504 });
      }
      throw error;
    }
  }

  private fetch(url: URL, signal: AbortSignal): Promise<FetchedResource> {
    return fetchForPreview(url, {
      policy: this.policy,
      maxBytes: this.settings.maxBytes,
      signal,
      wantsBody: (mediaType) => isHtml(mediaType) || isImage(mediaType),
      resolve: this.resolve,
    });
  }

  /** The page's `og:image`, fetched and stored; nothing when it cannot be (the page still previews). */
  private async previewImage(
    userId: string,
    imageUrl: string,
    deadline: AbortSignal,
  ): Promise<UrlPreview> {
    const url = parsePreviewUrl(imageUrl);
    if (url === undefined) return {};
    try {
      const image = await this.fetch(url, deadline);
      if (image.body === undefined || !isImage(image.mediaType)) return {};
      return (await this.storeImage(userId, image)) ?? {};
    } catch (error) {
      if (error instanceof PreviewFetchAborted) throw error;
      this.logger.debug({ err: error }, 'URL preview image not fetched');
      return {};
    }
  }

  /** Stores an image as an upload by `userId`; `undefined` when the media repository refuses it. */
  private async storeImage(
    userId: string,
    image: FetchedResource,
  ): Promise<UrlPreview | undefined> {
    const body = image.body!;
    let mxc: string;
    try {
      mxc = await this.media.upload(userId, {
        body: Readable.from([body]),
        contentType: image.mediaType,
        fileName: fileNameOf(image.url),
        declaredLength: body.length,
      });
    } catch (error) {
      // Over the upload size or the tenant's quota: the preview goes without its image.
      if (error instanceof MatrixError) return undefined;
      throw error;
    }
    const preview: UrlPreview = {
      'og:image': mxc,
      'og:image:type': image.mediaType,
      'matrix:image:size': body.length,
    };
    // Loaded here, not up front: shards whose tenants never preview an image do not carry sharp.
    const { default: sharp } = await import('sharp');
    try {
      const { width, height } = await sharp(body).metadata();
      if (width !== undefined && height !== undefined) {
        preview['og:image:width'] = width;
        preview['og:image:height'] = height;
      }
    } catch {
      // Not an image sharp reads: no dimensions.
    }
    return preview;
  }
}
