/**
 * Media in an S3 bucket (AWS SDK v3), one bucket per tenant, optionally under a key prefix.
 * Uploads stream through lib-storage's `Upload` (multipart past one part, a single PUT below),
 * one part in flight at a time: an upload holds about two parts (the one being sent and the one
 * being filled, 5 MiB each) whatever its size, and a failed upload is aborted, so no object
 * appears. Each tenant has its own client, destroyed (sockets closed) when the tenant stops.
 */
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  checkMediaKey,
  type MediaStore,
  type MediaStoreConfig,
  type StoredMedia,
} from './media-store.js';

/** S3's smallest part size (every part but the last must be at least this). */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts sent at once per upload: one, since a shard runs many tenants' uploads side by side. */
const QUEUE_SIZE = 1;

type S3Config = Extract<MediaStoreConfig, { kind: 's3' }>;

export class S3MediaStore implements MediaStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
    this.prefix =
      config.prefix === '' || config.prefix.endsWith('/') ? config.prefix : `${config.prefix}/`;
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
      // Checksums only where S3 requires them: S3-compatible stores (MinIO, Ceph, s3rver) do not
      // all understand the newer flexible checksums, and a streamed GET is not buffered to check.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Readable, options: { contentType: string }): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.keyOf(key),
        Body: body,
        ContentType: options.contentType,
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    });
    await upload.done();
  }

  async get(key: string): Promise<StoredMedia | undefined> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      if (!(object.Body instanceof Readable)) throw new Error('S3 returned no body stream');
      return { size: Number(object.ContentLength ?? 0), body: object.Body };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return { size: Number(head.ContentLength ?? 0) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private keyOf(key: string): string {
    checkMediaKey(key);
    return this.prefix + key;
  }
}

function isMissing(error: unknown): boolean {
  // HEAD answers a bare 404 (`NotFound`); a missing bucket stays an error (a misconfiguration).
  return (
    error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound')
  );
}
