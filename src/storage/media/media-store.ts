/**
 * Where a tenant's media bytes live: a local directory (the embedded default) or an S3 bucket
 * (production, so that tenants can move between machines). Both stream: an upload or a download
 * never sits in memory whole. Which object belongs to which media ID is the media service's
 * business (see services/media); a store only maps keys to bytes.
 */
import type { Readable } from 'node:stream';

/** A stored object, opened for reading. */
export interface StoredMedia {
  /** Its length in bytes. */
  readonly size: number;
  /** Its bytes; destroy it to stop reading early. */
  readonly body: Readable;
}

export interface MediaStore {
  readonly kind: 'local' | 's3';
  /**
   * Stores `body` under `key`, resolving once it is stored whole. When it rejects (the body
   * failed, the store failed), nothing is left under `key`: a half-written object is never seen.
   */
  put(key: string, body: Readable, options: { contentType: string }): Promise<void>;
  /** Opens the object, or undefined when there is none. */
  get(key: string): Promise<StoredMedia | undefined>;
  /** The object's size, or undefined when there is none. */
  stat(key: string): Promise<{ size: number } | undefined>;
  /** Removes the object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Frees what the store holds (the S3 client's connections). */
  close(): Promise<void>;
}

/** Where a tenant keeps its media, as the storage layer needs it. */
export type MediaStoreConfig =
  | { kind: 'local'; path: string }
  | {
      kind: 's3';
      bucket: string;
      endpoint: string;
      region: string;
      /** Prepended to every key (e.g. `tenants/alpha/`). */
      prefix: string;
      forcePathStyle: boolean;
      /** Absent: the AWS SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, …). */
      credentials?: { accessKeyId: string; secretAccessKey: string };
    };

/** Keys are `/`-separated segments of `A-Za-z0-9_-` (the media ID alphabet): no traversal. */
const KEY_PATTERN = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

export function checkMediaKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new Error(`invalid media key ${JSON.stringify(key)}`);
}
