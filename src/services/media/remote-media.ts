/**
 * Other servers' media (`mxc://origin/…` with an origin that is not the tenant), fetched over
 * federation and cached in the tenant's own media store so that later downloads and thumbnails
 * are served locally, even when the origin is gone. The origin is asked with the authenticated
 * federation endpoint (`/_matrix/federation/v1/media/download`), else, for servers older than
 * spec v1.11, the deprecated `/_matrix/media/v3/download?allow_remote=false`. Concurrent requests
 * for the same media share one fetch. The tenant's largest upload is also the largest remote
 * media it fetches (larger: 502 M_TOO_LARGE, as Synapse and the spec's download answer).
 * Serving cached media records when it was last served (at most once an hour per item), which is
 * what `RemoteMediaEviction` goes by.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { MatrixError, notFound } from '../../core/errors.js';
import type { MediaStore } from '../../storage/media/media-store.js';
import {
  deleteRemoteMedia,
  insertRemoteMedia,
  selectRemoteMedia,
  touchRemoteMedia,
  type RemoteMediaRecord,
} from '../../storage/media/remote-media-records.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type {
  FederationBytesAnswer,
  FederationHttpClient,
} from '../federation/federation-http-client.js';
import { FederationRequestError } from '../federation/federation-contracts.js';
import { fileNameOfDisposition } from './content-disposition.js';
import { MultipartFormatError, parseMultipartMedia } from './multipart-media.js';

/** Room for the multipart framing and headers around the media's bytes. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** Beyond the remote's own wait for a pending upload: time to transfer the bytes. */
const TRANSFER_SLACK_MS = 30_000;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** How far behind a cached item's last access time may be: written at most this often. */
export const REMOTE_MEDIA_ACCESS_RESOLUTION_MS = 60 * 60_000;

/** The part of the tenant's federation client remote media needs. */
export type MediaFederationClient = Pick<FederationHttpClient, 'requestBytes'>;

export interface RemoteMediaDeps {
  db: TenantDatabase;
  store: MediaStore;
  clock: Clock;
  logger: Logger;
  client: MediaFederationClient;
  /** The largest media fetched (the tenant's largest upload). */
  maxBytes: number;
}

/** Media fetched from its origin, before it is cached. */
interface FetchedMedia {
  contentType: string;
  uploadName: string | null;
  bytes: Buffer;
}

export class RemoteMedia {
  private readonly deps: RemoteMediaDeps;
  /** Fetches under way, by `origin/mediaId`: a second request waits for the same one. */
  private readonly inFlight = new Map<string, Promise<RemoteMediaRecord>>();

  constructor(deps: RemoteMediaDeps) {
    this.deps = deps;
  }

  /** The cached record of the media if it is cached (and its bytes are there), else undefined. */
  async cached(origin: string, mediaId: string): Promise<RemoteMediaRecord | undefined> {
    const { db, store, logger } = this.deps;
    const record = await db.read((r) => selectRemoteMedia(r, origin, mediaId));
    if (record === undefined) return undefined;
    if ((await store.stat(remoteStorageKeyOf(record.cacheId))) !== undefined) {
      await this.touch(record);
      return record;
    }
    logger.warn(
      { origin, media_id: mediaId },
      'cached remote media missing from the media store: fetching it again',
    );
    await db.transact((trx) => deleteRemoteMedia(trx, origin, mediaId));
    return undefined;
  }

  /** Records that cached media is served, when its last access time is an hour or more behind. */
  private async touch(record: RemoteMediaRecord): Promise<void> {
    const now = this.deps.clock.now();
    const notBefore = now - REMOTE_MEDIA_ACCESS_RESOLUTION_MS;
    if (record.lastAccessTs >= notBefore) return;
    try {
      await this.deps.db.transact((trx) =>
        touchRemoteMedia(trx, record.origin, record.mediaId, now, notBefore),
      );
    } catch (error) {
      // Serving goes on; at worst the item is evicted earlier than it would have been.
      this.deps.logger.warn(
        { origin: record.origin, media_id: record.mediaId, err: error },
        'cannot record the access to cached remote media',
      );
    }
  }

  /**
   * The media's cached record, fetched from its origin first if it is not cached. Unknown at the
   * origin: 404 M_NOT_FOUND; still uploading there after `timeoutMs`: 504 M_NOT_YET_UPLOADED;
   * larger than the limit: 502 M_TOO_LARGE; origin unreachable or broken: 502 M_UNKNOWN.
   */
  async resolve(
    origin: string,
    mediaId: string,
    options: { timeoutMs: number },
  ): Promise<RemoteMediaRecord> {
    const cached = await this.cached(origin, mediaId);
    if (cached !== undefined) return cached;
    const key = `${origin}/${mediaId}`;
    let fetching = this.inFlight.get(key);
    if (fetching === undefined) {
      fetching = this.fetchAndCache(origin, mediaId, options.timeoutMs);
      this.inFlight.set(key, fetching);
      const started = fetching;
      const forget = () => {
        if (this.inFlight.get(key) === started) this.inFlight.delete(key);
      };
      void started.then(forget, forget);
    }
    return fetching;
  }

  private async fetchAndCache(
    origin: string,
    mediaId: string,
    timeoutMs: number,
  ): Promise<RemoteMediaRecord> {
    const { db, store, clock } = this.deps;
    const fetched = await this.fetch(origin, mediaId, timeoutMs);
    const record: RemoteMediaRecord = {
      origin,
      mediaId,
      cacheId: randomBytes(18).toString('base64url'),
      contentType: fetched.contentType,
      uploadName: fetched.uploadName,
      size: fetched.bytes.length,
      sha256: createHash('sha256').update(fetched.bytes).digest('hex'),
      fetchedTs: clock.now(),
      lastAccessTs: clock.now(),
    };
    const key = remoteStorageKeyOf(record.cacheId);
    await store.put(key, Readable.from([fetched.bytes]), { contentType: record.contentType });
    let inserted = false;
    try {
      inserted = await db.transact((trx) => insertRemoteMedia(trx, record));
    } finally {
      if (!inserted) await store.delete(key).catch(() => {});
    }
    // Cached meanwhile by someone else (another process on the same database): keep theirs.
    return inserted ? record : ((await this.cached(origin, mediaId)) ?? record);
  }

  private async fetch(origin: string, mediaId: string, timeoutMs: number): Promise<FetchedMedia> {
    const { client, maxBytes } = this.deps;
    const id = encodeURIComponent(mediaId);
    const request = {
      method: 'GET' as const,
      query: { timeout_ms: String(timeoutMs) },
      timeoutMs: timeoutMs + TRANSFER_SLACK_MS,
    };
    try {
      let answer: FederationBytesAnswer;
      try {
        answer = await client.requestBytes(
          origin,
          { ...request, path: `/_matrix/federation/v1/media/download/${id}` },
          maxBytes + MULTIPART_OVERHEAD_BYTES,
        );
      } catch (error) {
        if (!isUnknownEndpoint(error)) throw error;
        // A server older than spec v1.11: its deprecated unauthenticated download.
        const legacy = await client.requestBytes(
          origin,
          {
            ...request,
            path: `/_matrix/media/v3/download/${encodeURIComponent(origin)}/${id}`,
            query: { ...request.query, allow_remote: 'false' },
            signed: false,
          },
          maxBytes,
        );
        return this.checked({
          contentType: headerOf(legacy.headers, 'content-type'),
          disposition: headerOf(legacy.headers, 'content-disposition'),
          bytes: legacy.body,
        });
      }
      const part = parseMultipartMedia(headerOf(answer.headers, 'content-type') ?? '', answer.body);
      if (part.headers.location !== undefined) {
        throw new MultipartFormatError('redirects (Location) to the media are not followed yet');
      }
      return this.checked({
        contentType: part.headers['content-type'],
        disposition: part.headers['content-disposition'],
        bytes: part.bytes,
      });
    } catch (error) {
      throw this.fetchError(origin, mediaId, error);
    }
  }

  /** The fetched media within the limit, with a sane content type and file name. */
  private checked(media: {
    contentType: string | undefined;
    disposition: string | undefined;
    bytes: Buffer;
  }): FetchedMedia {
    if (media.bytes.length > this.deps.maxBytes) throw remoteTooLarge(this.deps.maxBytes);
    const contentType = media.contentType?.trim() ?? '';
    const uploadName = fileNameOfDisposition(media.disposition);
    return {
      contentType:
        contentType.length > 0 && contentType.length <= 255 && /^[\x20-\x7e]+$/.test(contentType)
          ? contentType
          : DEFAULT_CONTENT_TYPE,
      uploadName: uploadName !== null && uploadName.length <= 1024 ? uploadName : null,
      bytes: media.bytes,
    };
  }

  /** What the client is told when the origin does not give the media. */
  private fetchError(origin: string, mediaId: string, error: unknown): Error {
    if (error instanceof MatrixError) return error;
    const { logger, maxBytes } = this.deps;
    if (error instanceof FederationRequestError) {
      if (error.errcode === 'M_TOO_LARGE' || error.status === 413) return remoteTooLarge(maxBytes);
      if (error.status === 404) return notFound('Unknown media');
      if (error.errcode === 'M_NOT_YET_UPLOADED') {
        return new MatrixError('M_NOT_YET_UPLOADED', 'Content has not yet been uploaded');
      }
    } else if (!(error instanceof MultipartFormatError)) {
      return error instanceof Error ? error : new Error(String(error));
    }
    logger.info({ origin, media_id: mediaId, err: error }, 'cannot fetch remote media');
    return new MatrixError('M_UNKNOWN', `Cannot fetch the media from ${origin}`, { status: 502 });
  }
}

/** Where cached remote media's bytes are kept: under `remote/` and its cache ID. */
export function remoteStorageKeyOf(cacheId: string): string {
  return `remote/${cacheId.slice(0, 2)}/${cacheId.slice(2, 4)}/${cacheId.slice(4)}`;
}

/** The federation media endpoint is unknown to the origin (an older server). */
function isUnknownEndpoint(error: unknown): boolean {
  if (!(error instanceof FederationRequestError)) return false;
  if (error.errcode === 'M_UNRECOGNIZED') return true;
  return error.errcode === undefined && (error.status === 404 || error.status === 405);
}

function headerOf(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The spec's (and Synapse's) answer for media larger than the server will serve: 502. */
function remoteTooLarge(maxBytes: number): MatrixError {
  return new MatrixError('M_TOO_LARGE', `Remote media is larger than ${maxBytes} bytes`, {
    status: 502,
  });
}
