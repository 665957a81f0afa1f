/**
 * The tenant's content repository (spec: "Content repository"): uploads, asynchronous uploads
 * (`/create` then `PUT /upload`), and opening media to serve it. Bytes stream between the client
 * and the tenant's `MediaStore`; their metadata (uploader, type, name, size, SHA-256) is in the
 * tenant's database. Limits: the largest upload, the tenant's storage quota, the pending
 * asynchronous uploads per user.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import {
  MatrixError,
  forbidden,
  invalidParam,
  limitExceeded,
  notFound,
  tooLarge,
} from '../../core/errors.js';
import {
  completePendingMedia,
  deleteExpiredPendingMedia,
  insertPendingMedia,
  insertUploadedMedia,
  reserveMediaBytes,
  selectMedia,
  selectMediaBytes,
  selectPendingMediaOf,
  type MediaContent,
  type MediaRecord,
} from '../../storage/media/media-records.js';
import type { MediaStore } from '../../storage/media/media-store.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { ByteMeter } from './byte-meter.js';
import { remoteStorageKeyOf, type RemoteMedia } from './remote-media.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
/** How long a created media ID waits for its upload (the spec's recommended 24 hours). */
export const UNUSED_MEDIA_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Created media IDs a user may have waiting for their upload at once. */
export const MAX_PENDING_UPLOADS_PER_USER = 10;
/** How long a download waits for a pending upload: the spec's default, and our cap. */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 20_000;
export const MAX_DOWNLOAD_TIMEOUT_MS = 60_000;

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const MAX_CONTENT_TYPE_LENGTH = 255;
const MAX_UPLOAD_NAME_LENGTH = 1024;

export interface MediaSettings {
  /** Largest upload, in bytes. */
  maxUploadBytes: number;
  /** Total bytes the tenant may store; undefined: no quota. */
  quotaBytes?: number;
  /** Media uploaded at or after this time is not served unauthenticated; undefined: never. */
  unauthenticatedFreezeTs?: number;
}

/** Media to read (and thumbnail): where its bytes are, and what they are. */
export interface MediaSource {
  /** The store key of its bytes. */
  readonly storageKey: string;
  /** The ID its thumbnails are cached under: the media ID, or a remote media's cache ID. */
  readonly thumbnailId: string;
  readonly contentType: string;
  readonly uploadName: string | null;
  readonly size: number;
}

/** How `open`, `resolve` and `source` get media. */
export interface MediaReadOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The deprecated unauthenticated endpoints: media since the freeze is hidden. */
  unauthenticated: boolean;
}

/** An upload as the HTTP request brings it. */
export interface IncomingUpload {
  readonly body: Readable;
  /** The request's `Content-Type`, if any. */
  readonly contentType: string | undefined;
  /** The `filename` query parameter, if any. */
  readonly fileName: string | undefined;
  /** The request's `Content-Length`, if it declared one. */
  readonly declaredLength: number | undefined;
}

/** Media opened to be served. */
export interface OpenedMedia {
  readonly contentType: string;
  readonly uploadName: string | null;
  readonly size: number;
  readonly body: Readable;
}

export interface MediaRepositoryDeps {
  serverName: string;
  db: TenantDatabase;
  store: MediaStore;
  clock: Clock;
  logger: Logger;
  settings: MediaSettings;
}

export class MediaRepository {
  private readonly serverName: string;
  private readonly db: TenantDatabase;
  private readonly store: MediaStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly settings: MediaSettings;
  /** Pending media IDs whose content is being uploaded right now: a second upload is refused. */
  private readonly uploading = new Set<string>();
  /** Downloads waiting for a pending upload, by media ID. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private stopped = false;
  /** Other servers' media, fetched and cached (absent: remote media is 404). */
  private remote: RemoteMedia | undefined;

  constructor(deps: MediaRepositoryDeps) {
    this.serverName = deps.serverName;
    this.db = deps.db;
    this.store = deps.store;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.settings = deps.settings;
  }

  /** Serve other servers' media through `remote` (set once federation exists). */
  useRemote(remote: RemoteMedia): void {
    this.remote = remote;
  }

  /** `POST /upload`: stores the content under a new media ID; returns its `mxc://` URI. */
  async upload(userId: string, incoming: IncomingUpload): Promise<string> {
    const meta = checkUploadMetadata(incoming);
    const mediaId = newMediaId();
    const stored = await this.storeContent(mediaId, incoming, meta.contentType);
    const content = { ...meta, ...stored, uploadedTs: this.clock.now() };
    await this.commit(mediaId, content.size, async (trx) => {
      await insertUploadedMedia(trx, mediaId, userId, content);
    });
    return this.mxcOf(mediaId);
  }

  /** `POST /create`: a new media ID whose content the user uploads later. */
  async create(userId: string): Promise<{ content_uri: string; unused_expires_at: number }> {
    const now = this.clock.now();
    const mediaId = newMediaId();
    const expiresTs = now + UNUSED_MEDIA_LIFETIME_MS;
    await this.db.transact(async (trx) => {
      await deleteExpiredPendingMedia(trx, userId, now);
      const pending = await selectPendingMediaOf(trx, userId, now);
      if (pending.count >= MAX_PENDING_UPLOADS_PER_USER) {
        throw limitExceeded(
          Math.max(0, (pending.firstExpiryTs ?? now) - now),
          `You have ${pending.count} media uploads pending: upload to them first`,
        );
      }
      await insertPendingMedia(trx, mediaId, userId, now, expiresTs);
    });
    return { content_uri: this.mxcOf(mediaId), unused_expires_at: expiresTs };
  }

  /** `PUT /upload/{serverName}/{mediaId}`: the content of a media ID the user created. */
  async uploadTo(
    userId: string,
    serverName: string,
    mediaId: string,
    incoming: IncomingUpload,
  ): Promise<void> {
    const meta = checkUploadMetadata(incoming);
    const record = serverName === this.serverName ? await this.find(mediaId) : undefined;
    if (record === undefined) throw notFound('Unknown media ID');
    if (record.userId !== userId)
      throw forbidden('Only the creator of a media ID may upload to it');
    if (record.uploadedTs !== null || this.uploading.has(mediaId)) {
      throw new MatrixError('M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded');
    }
    if (this.isExpired(record)) throw notFound('The media ID expired');
    this.uploading.add(mediaId);
    try {
      const stored = await this.storeContent(mediaId, incoming, meta.contentType);
      const content = { ...meta, ...stored, uploadedTs: this.clock.now() };
      await this.commit(mediaId, content.size, async (trx) => {
        if (!(await completePendingMedia(trx, mediaId, content))) {
          throw new MatrixError('M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded');
        }
      });
    } finally {
      this.uploading.delete(mediaId);
    }
    this.wake(mediaId);
  }

  /**
   * Opens media to serve it. Local: a pending upload is waited for up to `timeoutMs` (then 504
   * M_NOT_YET_UPLOADED). Other servers': from the cache, else fetched from its origin (see
   * `RemoteMedia`). `unauthenticated` (the deprecated endpoints) hides media uploaded (or
   * fetched) since the freeze.
   */
  async open(serverName: string, mediaId: string, options: MediaReadOptions): Promise<OpenedMedia> {
    const source = await this.source(serverName, mediaId, options);
    const object = await this.store.get(source.storageKey);
    if (object === undefined) {
      this.logger.error(
        { server_name: serverName, media_id: mediaId },
        'media is recorded but missing from the media store',
      );
      throw notFound('Unknown media');
    }
    return {
      contentType: source.contentType,
      uploadName: source.uploadName,
      size: object.size,
      body: object.body,
    };
  }

  /** Where the bytes of media that may be served are, with `open`'s checks, without opening them. */
  async source(
    serverName: string,
    mediaId: string,
    options: MediaReadOptions,
  ): Promise<MediaSource> {
    if (serverName !== this.serverName) return this.remoteSource(serverName, mediaId, options);
    const record = await this.resolve(serverName, mediaId, options);
    return {
      storageKey: storageKeyOf(mediaId),
      thumbnailId: mediaId,
      contentType: record.contentType ?? DEFAULT_CONTENT_TYPE,
      uploadName: record.uploadName,
      size: record.size ?? 0,
    };
  }

  private async remoteSource(
    origin: string,
    mediaId: string,
    options: MediaReadOptions,
  ): Promise<MediaSource> {
    if (this.remote === undefined) throw notFound('Remote media is not available here');
    const timeoutMs = Math.min(Math.max(0, options.timeoutMs), MAX_DOWNLOAD_TIMEOUT_MS);
    // Unauthenticated and frozen: only what was cached before the freeze, never fetched now.
    const cachedOnly = options.unauthenticated && this.isFrozen(this.clock.now());
    const record = cachedOnly
      ? await this.remote.cached(origin, mediaId)
      : await this.remote.resolve(origin, mediaId, { timeoutMs });
    if (record === undefined || (options.unauthenticated && this.isFrozen(record.fetchedTs))) {
      throw notFound('This media is only served by the authenticated endpoints');
    }
    return {
      storageKey: remoteStorageKeyOf(record.cacheId),
      thumbnailId: record.cacheId,
      contentType: record.contentType,
      uploadName: record.uploadName,
      size: record.size,
    };
  }

  /**
   * The uploaded record of local media that may be served, with the same checks as `open`
   * (remote, unknown, pending upload waited for, frozen), without opening its bytes: thumbnails
   * served from their cache need no more.
   */
  async resolve(
    serverName: string,
    mediaId: string,
    options: MediaReadOptions,
  ): Promise<MediaRecord & { uploadedTs: number }> {
    if (serverName !== this.serverName) throw notFound('Not media of this server');
    let record = await this.find(mediaId);
    if (record === undefined) throw notFound('Unknown media');
    if (record.uploadedTs === null) {
      if (this.isExpired(record)) throw notFound('Unknown media');
      if (options.unauthenticated && this.isFrozen(this.clock.now()))
        throw notFound('Unknown media');
      record = await this.waitForUpload(record, options.timeoutMs, options.signal);
    }
    if (record.uploadedTs === null) {
      throw new MatrixError('M_NOT_YET_UPLOADED', 'Content has not yet been uploaded');
    }
    if (options.unauthenticated && this.isFrozen(record.uploadedTs)) {
      throw notFound('This media is only served by the authenticated endpoints');
    }
    return { ...record, uploadedTs: record.uploadedTs };
  }

  /** Ends downloads waiting for uploads (the tenant is stopping). */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  private async find(mediaId: string): Promise<MediaRecord | undefined> {
    return this.db.read((db) => selectMedia(db, mediaId));
  }

  private isExpired(record: MediaRecord): boolean {
    return record.unusedExpiresTs !== null && record.unusedExpiresTs <= this.clock.now();
  }

  private isFrozen(uploadedTs: number): boolean {
    const freeze = this.settings.unauthenticatedFreezeTs;
    return freeze !== undefined && uploadedTs >= freeze;
  }

  /**
   * Streams the upload into the store through a meter that stops it at the size limit or at what
   * is left of the quota, whichever is smaller. A failed upload leaves nothing in the store.
   */
  private async storeContent(
    mediaId: string,
    incoming: IncomingUpload,
    contentType: string,
  ): Promise<{ size: number; sha256: string }> {
    const { maxUploadBytes, quotaBytes } = this.settings;
    const left =
      quotaBytes === undefined
        ? Infinity
        : Math.max(0, quotaBytes - (await this.db.read(selectMediaBytes)));
    const declared = incoming.declaredLength;
    if (declared !== undefined && declared > maxUploadBytes) throw uploadTooLarge(maxUploadBytes);
    if (declared !== undefined && declared > left) throw quotaExceeded();

    const meter = new ByteMeter(Math.min(maxUploadBytes, left));
    const { body } = incoming;
    // Not `pipeline`: a failing meter must not destroy the request (the client still needs its
    // answer); the HTTP layer drains what the client still sends.
    const onError = (error: Error) => meter.destroy(error);
    let aborted = false;
    const onClose = () => {
      if (body.readableEnded) return;
      aborted = true;
      meter.destroy(new Error('the client aborted the upload'));
    };
    body.once('error', onError);
    body.once('close', onClose);
    body.pipe(meter);
    const key = storageKeyOf(mediaId);
    try {
      await this.store.put(key, meter, { contentType });
    } catch (error) {
      await this.store.delete(key).catch(() => {});
      if (meter.bytes > maxUploadBytes) throw uploadTooLarge(maxUploadBytes);
      if (meter.bytes > left) throw quotaExceeded();
      // Nobody reads the answer; a client error keeps it out of the error log.
      if (aborted) throw new MatrixError('M_UNKNOWN', 'The upload was aborted', { status: 400 });
      throw error;
    } finally {
      body.off('error', onError);
      body.off('close', onClose);
      body.unpipe(meter);
    }
    return { size: meter.bytes, sha256: meter.sha256() };
  }

  /**
   * Records stored content: reserves its bytes against the quota and runs `record`, in one
   * transaction. When that fails, the stored object is removed again.
   */
  private async commit(
    mediaId: string,
    size: number,
    record: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<void> {
    try {
      await this.db.transact(async (trx) => {
        if (!(await reserveMediaBytes(trx, size, this.settings.quotaBytes))) throw quotaExceeded();
        await record(trx);
      });
    } catch (error) {
      await this.store.delete(storageKeyOf(mediaId)).catch((deleteError: unknown) => {
        this.logger.warn(
          { err: deleteError, media_id: mediaId },
          'could not remove unrecorded media',
        );
      });
      throw error;
    }
  }

  private async waitForUpload(
    record: MediaRecord,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<MediaRecord> {
    const { mediaId } = record;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const waiting = this.waiters.get(mediaId) ?? new Set();
    waiting.add(wake);
    this.waiters.set(mediaId, waiting);
    const timer = setTimeout(wake, Math.min(Math.max(0, timeoutMs), MAX_DOWNLOAD_TIMEOUT_MS));
    signal?.addEventListener('abort', wake, { once: true });
    try {
      // Read again once subscribed: an upload that finished in between is not missed.
      const current = await this.find(mediaId);
      if (current === undefined || current.uploadedTs !== null) return current ?? record;
      await woken;
      if (this.stopped) return record;
      return (await this.find(mediaId)) ?? record;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', wake);
      waiting.delete(wake);
      if (waiting.size === 0) this.waiters.delete(mediaId);
    }
  }

  private wake(mediaId: string): void {
    for (const wake of this.waiters.get(mediaId) ?? []) wake();
  }

  private mxcOf(mediaId: string): string {
    return `mxc://${this.serverName}/${mediaId}`;
  }
}

/** Where a media item's bytes are kept in the store: spread over two levels of folders. */
export function storageKeyOf(mediaId: string): string {
  return `local/${mediaId.slice(0, 2)}/${mediaId.slice(2, 4)}/${mediaId.slice(4)}`;
}

/** 24 characters of `A-Za-z0-9_-` (144 random bits), the spec's media ID alphabet. */
function newMediaId(): string {
  return randomBytes(18).toString('base64url');
}

function checkUploadMetadata(
  incoming: IncomingUpload,
): Omit<MediaContent, 'size' | 'sha256' | 'uploadedTs'> {
  const contentType = incoming.contentType?.trim() || DEFAULT_CONTENT_TYPE;
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH || !/^[\x20-\x7e]+$/.test(contentType)) {
    throw invalidParam('Invalid Content-Type');
  }
  const fileName = incoming.fileName ?? null;
  if (fileName !== null && fileName.length > MAX_UPLOAD_NAME_LENGTH) {
    throw invalidParam(`filename is longer than ${MAX_UPLOAD_NAME_LENGTH} characters`);
  }
  return { contentType, uploadName: fileName === '' ? null : fileName };
}

function uploadTooLarge(maxBytes: number): MatrixError {
  return tooLarge(`Cannot upload files larger than ${maxBytes} bytes`);
}

/**
 * The tenant's storage quota is used up: 403, as the spec's upload responses list "the user has
 * reached a quota for uploaded content" under 403; errcode M_LIMIT_EXCEEDED (not a rate limit:
 * no `retry_after_ms`).
 */
function quotaExceeded(): MatrixError {
  return new MatrixError('M_LIMIT_EXCEEDED', 'The media storage quota of this server is used up', {
    status: 403,
  });
}
