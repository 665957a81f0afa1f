/**
 * Media in an S3 bucket (AWS SDK v3), one bucket per tenant, optionally under a key prefix.
 * Uploads stream through lib-storage's `Upload` (multipart past one part, a single PUT below),
 * one part in flight at a time: an upload holds about two parts (the one being sent and the one
 * being filled, 5 MiB each) whatever its size, and a failed upload is aborted, so no object
 * appears. Each tenant has its own client, destroyed (sockets closed) when the tenant stops.
 * The SDK is loaded on the store's first use (it takes about half a second), so processes whose
 * tenants keep their media locally never load it.
 */
import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
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

/** The loaded SDK and the tenant's client. */
interface S3Connection {
  readonly sdk: typeof S3Sdk;
  readonly Upload: typeof Upload;
  readonly client: S3Sdk.S3Client;
}

export class S3MediaStore implements MediaStore {
  readonly kind = 's3';
  private readonly config: S3Config;
  private readonly bucket: string;
  private readonly prefix: string;
  /** Made on first use (see `connect`). */
  private connection: Promise<S3Connection> | undefined;

  constructor(config: S3Config) {
    this.config = config;
    this.bucket = config.bucket;
    this.prefix =
      config.prefix === '' || config.prefix.endsWith('/') ? config.prefix : `${config.prefix}/`;
  }

  async put(key: string, body: Readable, options: { contentType: string }): Promise<void> {
    const { Upload, client } = await this.connect();
    const upload = new Upload({
      client,
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
    const { sdk, client } = await this.connect();
    try {
      const object = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      if (!(object.Body instanceof Readable)) throw new Error('S3 returned no body stream');
      return { size: Number(object.ContentLength ?? 0), body: object.Body };
    } catch (error) {
      if (isMissing(sdk, error)) return undefined;
      throw error;
    }
  }

  async stat(key: string): Promise<{ size: number } | undefined> {
    const { sdk, client } = await this.connect();
    try {
      const head = await client.send(
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return { size: Number(head.ContentLength ?? 0) };
    } catch (error) {
      if (isMissing(sdk, error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const { sdk, client } = await this.connect();
    await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  async close(): Promise<void> {
    // A store never used has no client (nor SDK) to close.
    const connection = await this.connection?.catch(() => undefined);
    connection?.client.destroy();
  }

  /** The SDK and the client, loaded and made once per store. */
  private connect(): Promise<S3Connection> {
    this.connection ??= (async () => {
      const [sdk, { Upload }] = await Promise.all([
        import('@aws-sdk/client-s3'),
        import('@aws-sdk/lib-storage'),
      ]);
      const { config } = this;
      const client = new sdk.S3Client({
        endpoint: config.endpoint,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
        // Checksums only where S3 requires them: S3-compatible stores (MinIO, Ceph, s3rver) do
        // not all understand the newer flexible checksums, and a streamed GET is not buffered to
        // check.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return { sdk, Upload, client };
    })();
    return this.connection;
  }

  private keyOf(key: string): string {
    checkMediaKey(key);
    return this.prefix + key;
  }
}

function isMissing(sdk: typeof S3Sdk, error: unknown): boolean {
  // HEAD answers a bare 404 (`NotFound`); a missing bucket stays an error (a misconfiguration).
  return (
    error instanceof sdk.S3ServiceException &&
    (error.name === 'NoSuchKey' || error.name === 'NotFound')
  );
}
